"use client";

import * as Dialog from "@radix-ui/react-dialog";

export const DrawerTitle = Dialog.Title;
export const DrawerClose = Dialog.Close;

/**
 * A modal drawer on Radix Dialog (focus trap, Esc, outside click, scroll lock, the rest of the page
 * hidden from assistive technology): a side panel from sm up, a full-screen sheet on a phone. It is
 * open while mounted. Rendered in place rather than in a portal, so that a drawer open on first
 * load (a shared ?account= link) is part of the server-rendered HTML. `returnFocus` names where
 * focus goes after it closes (the opener), since the drawer is opened from the URL, not a Trigger.
 */
export function Drawer({
  onClose,
  returnFocus,
  busy,
  testId,
  children,
}: {
  onClose: () => void;
  returnFocus?: () => HTMLElement | null;
  busy?: boolean;
  testId?: string;
  children: React.ReactNode;
}) {
  return (
    <Dialog.Root open onOpenChange={(open) => !open && onClose()}>
      <Dialog.Overlay className="fixed inset-0 z-40 bg-black/50" />
      <Dialog.Content
        aria-describedby={undefined}
        aria-busy={busy}
        data-testid={testId}
        onCloseAutoFocus={(e) => {
          const el = returnFocus?.();
          if (el) {
            e.preventDefault();
            el.focus();
          }
        }}
        className="fixed inset-0 z-50 flex h-dvh w-full flex-col overflow-y-auto overscroll-contain bg-white shadow-2xl outline-none sm:left-auto sm:max-w-3xl lg:max-w-5xl"
      >
        {children}
      </Dialog.Content>
    </Dialog.Root>
  );
}
