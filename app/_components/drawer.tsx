"use client";

import { useEffect, useRef } from "react";

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"]), summary';

function focusables(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => !el.closest("[inert]") && el.getClientRects().length > 0);
}

/**
 * A modal side drawer: role="dialog" + aria-modal, labelled by its heading. Focus moves in when it
 * opens and Tab cycles inside it; Esc closes it. The page behind should be made `inert` by the
 * caller while it is open, and the caller returns focus to the opener after it closes (the opener
 * is inert until then). Rendered in place rather than in a portal, so a drawer that is open on
 * first load (a shared ?account= link) is part of the server-rendered HTML.
 */
export function Drawer({
  labelledBy,
  onClose,
  children,
  testId,
}: {
  labelledBy: string;
  onClose: () => void;
  children: React.ReactNode;
  testId?: string;
}) {
  const panel = useRef<HTMLDivElement>(null);
  const onCloseRef = useRef(onClose);
  useEffect(() => {
    onCloseRef.current = onClose;
  }, [onClose]);

  useEffect(() => {
    const root = panel.current;
    if (!root) return;
    if (!root.contains(document.activeElement)) {
      const initial = root.querySelector<HTMLElement>("[data-autofocus]") ?? focusables(root)[0] ?? root;
      initial.focus();
    }
    // On the document, so that Esc and Tab work even when focus has fallen to <body>.
    function onKeyDown(e: KeyboardEvent) {
      if (!root) return;
      if (e.key === "Escape") {
        e.preventDefault();
        onCloseRef.current();
        return;
      }
      if (e.key !== "Tab") return;
      const items = focusables(root);
      const first = items[0];
      const last = items[items.length - 1];
      if (!first || !last) {
        e.preventDefault();
        return;
      }
      const active = document.activeElement;
      if (e.shiftKey && (active === first || !root.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !root.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    }
    document.addEventListener("keydown", onKeyDown);
    const overflow = document.body.style.overflow;
    document.body.style.overflow = "hidden";
    return () => {
      document.removeEventListener("keydown", onKeyDown);
      document.body.style.overflow = overflow;
    };
  }, []);

  return (
    <div className="fixed inset-0 z-40 flex justify-end">
      <div aria-hidden className="absolute inset-0 bg-slate-900/40" onClick={() => onCloseRef.current()} />
      <div
        ref={panel}
        role="dialog"
        aria-modal="true"
        aria-labelledby={labelledBy}
        tabIndex={-1}
        data-testid={testId}
        className="relative flex h-full w-full flex-col overflow-y-auto bg-white shadow-2xl outline-none sm:max-w-3xl lg:max-w-5xl"
      >
        {children}
      </div>
    </div>
  );
}
