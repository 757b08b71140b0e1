import { getRuntime } from "@/server/runtime";

export const dynamic = "force-dynamic";

export default async function AccountsPage() {
  const runtime = await getRuntime();
  const accounts = runtime.db
    ? await runtime.db.db
        .selectFrom("accounts")
        .select(["id", "name", "platform", "status"])
        .where("deleted_at", "is", null)
        .orderBy("name")
        .limit(100)
        .execute()
    : [];
  return (
    <main className="mx-auto max-w-6xl p-6">
      <h1 className="mb-4 text-2xl font-semibold">账号 Accounts</h1>
      <table className="w-full border-collapse bg-white text-sm shadow-sm" data-testid="accounts-table">
        <thead>
          <tr className="border-b text-left text-slate-500">
            <th className="p-2">名称</th>
            <th className="p-2">平台</th>
            <th className="p-2">状态</th>
          </tr>
        </thead>
        <tbody>
          {accounts.map((a) => (
            <tr key={a.id} className="border-b">
              <td className="p-2">{a.name}</td>
              <td className="p-2">{a.platform}</td>
              <td className="p-2">{a.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
