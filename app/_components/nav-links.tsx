"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

/** `badge`: something shown after a link's label (the count of firing alerts). */
export function NavLinks({ links }: { links: { href: string; label: string; badge?: React.ReactNode }[] }) {
  const pathname = usePathname();
  return links.map((l) => {
    const current = pathname === l.href || pathname.startsWith(`${l.href}/`);
    return (
      <Link
        key={l.href}
        href={l.href}
        aria-current={current ? "page" : undefined}
        className={`whitespace-nowrap rounded-md px-2 py-1.5 focus-visible:outline-2 focus-visible:outline-brand-500 ${current ? "bg-brand-50 font-medium text-brand-700" : "text-slate-600 hover:bg-slate-100 hover:text-slate-900"}`}
      >
        {l.label}
        {l.badge}
      </Link>
    );
  });
}
