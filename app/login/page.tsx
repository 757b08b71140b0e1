export default function LoginPage() {
  return (
    <main className="mx-auto mt-24 max-w-sm rounded-lg bg-white p-6 shadow">
      <h1 className="text-xl font-semibold">登录 Sign in</h1>
    </main>
  );
}
