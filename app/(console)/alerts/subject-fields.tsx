"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useEffect, useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { describedBy, Field, INPUT } from "./form";

/**
 * A subject's kind and id, for the rule and budget forms. For one account the id field suggests
 * accounts by name or id as the admin types (accounts.list); any other id is free text.
 */
export function SubjectFields<K extends string>({
  idPrefix,
  kinds,
  kind,
  id,
  needsId,
  onKind,
  onId,
  errors,
}: {
  idPrefix: string;
  kinds: readonly K[];
  kind: K;
  id: string;
  needsId: boolean;
  onKind: (kind: K) => void;
  onId: (id: string) => void;
  errors: { kind?: string; id?: string };
}) {
  const t = useTranslations("alerts.subject");
  const kindId = `${idPrefix}-subject-kind`;
  const idId = `${idPrefix}-subject-id`;
  const hint = kind === "account" ? t("accountHint") : t("idHint");
  return (
    <>
      <Field id={kindId} label={t("kind")} error={errors.kind}>
        <select {...describedBy(kindId, errors.kind, undefined)} className={INPUT} value={kind} onChange={(e) => onKind(e.target.value as K)}>
          {kinds.map((k) => (
            <option key={k} value={k}>
              {t(`kinds.${k as "all"}`)}
            </option>
          ))}
        </select>
      </Field>
      {needsId && (
        <Field id={idId} label={t("id")} hint={hint} error={errors.id}>
          <input
            {...describedBy(idId, errors.id, hint)}
            className={INPUT}
            value={id}
            maxLength={128}
            autoComplete="off"
            list={kind === "account" ? `${idId}-accounts` : undefined}
            onChange={(e) => onId(e.target.value)}
          />
          {kind === "account" && <AccountOptions listId={`${idId}-accounts`} search={id} />}
        </Field>
      )}
    </>
  );
}

/** Up to 20 accounts whose name or id contains what was typed, as the input's suggestions (value: the id). */
function AccountOptions({ listId, search }: { listId: string; search: string }) {
  const trpc = useTRPC();
  const [typed, setTyped] = useState(search.trim());
  useEffect(() => {
    const timer = setTimeout(() => setTyped(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const list = useQuery(trpc.accounts.list.queryOptions({ ...(typed ? { search: typed } : {}), pageSize: 20 }, { placeholderData: keepPreviousData, staleTime: 60_000 }));
  return (
    <datalist id={listId}>
      {(list.data?.items ?? []).map((a) => (
        <option key={a.id} value={a.id}>
          {a.name}
        </option>
      ))}
    </datalist>
  );
}
