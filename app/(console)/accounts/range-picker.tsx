"use client";

import { useLocale, useTranslations } from "next-intl";
import { useState } from "react";
import { DayPicker } from "react-day-picker";
import { enUS, zhCN } from "react-day-picker/locale";
import "react-day-picker/style.css";
import { addDays, addMonths, daySpan, firstDayOf, isCalendarDate, lastDayOf, MAX_LOCAL_DATE, MIN_LOCAL_DATE } from "@/server/calendar";
import { firstEndPastLimit, isRangeTooLong, MAX_RANGE_YEARS } from "@/server/usage-stats/range-limit";

export interface DateRange {
  from: string;
  to: string;
}

const PRESETS = ["last7", "last30", "thisMonth", "lastMonth", "thisQuarter", "lastQuarter"] as const;
type Preset = (typeof PRESETS)[number];

/** The presets' days, counted from today in the usage time zone (the API's, not the viewer's). */
export function presetRange(preset: Preset, today: string): DateRange {
  const month = today.slice(0, 7);
  const quarter = `${today.slice(0, 4)}-${String(Math.floor((Number(today.slice(5, 7)) - 1) / 3) * 3 + 1).padStart(2, "0")}`;
  switch (preset) {
    case "last7":
      return { from: addDays(today, -6), to: today };
    case "last30":
      return { from: addDays(today, -29), to: today };
    case "thisMonth":
      return { from: firstDayOf(month), to: today };
    case "lastMonth":
      return { from: firstDayOf(addMonths(month, -1)), to: lastDayOf(addMonths(month, -1)) };
    case "thisQuarter":
      return { from: firstDayOf(quarter), to: today };
    case "lastQuarter":
      return { from: firstDayOf(addMonths(quarter, -3)), to: lastDayOf(addMonths(quarter, -1)) };
  }
}

const PRESET_LABEL = {
  last7: "presetLast7",
  last30: "presetLast30",
  thisMonth: "presetThisMonth",
  lastMonth: "presetLastMonth",
  thisQuarter: "presetThisQuarter",
  lastQuarter: "presetLastQuarter",
} as const;

/** A calendar date as a Date at local noon (the calendar's own days), and back. */
const toDate = (s: string) => new Date(Number(s.slice(0, 4)), Number(s.slice(5, 7)) - 1, Number(s.slice(8, 10)), 12);
const fromDate = (d: Date) => `${String(d.getFullYear()).padStart(4, "0")}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
const isDate = (s: string) => isCalendarDate(s) && s >= MIN_LOCAL_DATE && s <= MAX_LOCAL_DATE;

/**
 * The custom range: presets, two date fields (typed as YYYY-MM-DD) and a calendar
 * (react-day-picker, range mode: the first click picks the start, the second the end). The span
 * limit of the API (MAX_RANGE_YEARS, the same constant) is checked here, before any request.
 */
export function RangePicker({ today, initial, applied, onApply }: { today: string; initial?: DateRange; applied?: { from?: string; to?: string }; onApply: (r: DateRange) => void }) {
  const t = useTranslations("drawer");
  const locale = useLocale();
  const [from, setFrom] = useState(initial?.from ?? addDays(today, -6));
  const [to, setTo] = useState(initial?.to ?? today);
  const [anchor, setAnchor] = useState<string | null>(null);
  const [month, setMonth] = useState(() => toDate(initial?.to ?? today));

  const badFormat = !isDate(from) || !isDate(to) || from > to;
  const tooLong = !badFormat && isRangeTooLong(from, to);
  const invalid = badFormat || tooLong;
  const isApplied = applied?.from === from && applied?.to === to;

  function set(r: DateRange, apply: boolean) {
    setFrom(r.from);
    setTo(r.to);
    setAnchor(null);
    setMonth(toDate(r.to));
    if (apply && !isRangeTooLong(r.from, r.to)) onApply(r);
  }

  function pick(day: string) {
    if (anchor === null) {
      setFrom(day);
      setTo(day);
      setAnchor(day);
      return;
    }
    setFrom(day < anchor ? day : anchor);
    setTo(day < anchor ? anchor : day);
    setAnchor(null);
  }

  const field = (value: string, onChange: (v: string) => void, testId: string, label: string) => (
    <label className="flex flex-col gap-1 text-xs font-medium text-slate-600">
      {label}
      <input
        type="text"
        inputMode="numeric"
        autoComplete="off"
        value={value}
        placeholder={t("dateFormat")}
        pattern="\d{4}-\d{2}-\d{2}"
        maxLength={10}
        required
        aria-invalid={invalid}
        aria-describedby="range-message"
        data-testid={testId}
        onChange={(e) => {
          const v = e.target.value.trim();
          onChange(v);
          setAnchor(null);
          if (isDate(v)) setMonth(toDate(v));
        }}
        className="h-9 w-32 rounded-md border border-slate-300 bg-white px-2 text-sm tabular-nums text-slate-900 focus-visible:outline-2 focus-visible:outline-brand-500"
      />
    </label>
  );

  return (
    <form
      className="flex min-w-0 flex-col gap-3 rounded-lg border border-slate-200 p-3"
      data-testid="custom-range"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!invalid) onApply({ from, to });
      }}
    >
      <div role="group" aria-label={t("presets")} className="flex flex-wrap gap-2" data-testid="range-presets">
        {PRESETS.map((p) => {
          const r = presetRange(p, today);
          const on = applied?.from === r.from && applied.to === r.to;
          return (
            <button
              key={p}
              type="button"
              aria-pressed={on}
              data-testid={`range-preset-${p}`}
              data-from={r.from}
              data-to={r.to}
              onClick={() => set(r, true)}
              className={`rounded-full border px-3 py-1 text-xs font-medium focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500 ${on ? "border-brand-700 bg-brand-700 text-white" : "border-slate-300 bg-white text-slate-700 hover:bg-slate-100"}`}
            >
              {t(PRESET_LABEL[p])}
            </button>
          );
        })}
      </div>
      <div className="flex flex-wrap items-end gap-3">
        {field(from, setFrom, "range-from", t("from"))}
        {field(to, setTo, "range-to", t("to"))}
        <button
          type="submit"
          disabled={invalid || isApplied}
          data-testid="range-apply"
          className="h-9 rounded-md bg-brand-700 px-4 text-sm font-medium text-white hover:bg-brand-600 disabled:opacity-40 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500"
        >
          {t("apply")}
        </button>
      </div>
      <p
        id="range-message"
        role={invalid ? "alert" : "status"}
        data-testid={invalid ? "range-error" : "range-selected"}
        className={`text-sm ${invalid ? "text-rose-700" : "text-slate-600"}`}
      >
        {badFormat
          ? t("invalidRange")
          : tooLong
            ? t("rangeTooLong", { years: MAX_RANGE_YEARS, limit: firstEndPastLimit(from) })
            : t("rangeSelected", { start: from, end: to, days: daySpan(from, to) })}
      </p>
      <div className="min-w-0" data-testid="range-calendar">
      <DayPicker
        mode="range"
        selected={badFormat ? undefined : { from: toDate(from), to: anchor ? undefined : toDate(to) }}
        onSelect={(_range, day) => pick(fromDate(day))}
        month={month}
        onMonthChange={setMonth}
        startMonth={toDate(MIN_LOCAL_DATE)}
        endMonth={toDate(today)}
        today={toDate(today)}
        disabled={{ after: toDate(today) }}
        captionLayout="dropdown"
        showOutsideDays
        locale={locale === "en" ? enUS : zhCN}
        aria-label={t("calendar")}
        className="max-w-full text-sm text-slate-900"
        style={
          {
            "--rdp-accent-color": "var(--color-brand-700)",
            "--rdp-accent-background-color": "var(--color-brand-50)",
            "--rdp-day-width": "40px",
            "--rdp-day-height": "38px",
            "--rdp-day_button-width": "38px",
            "--rdp-day_button-height": "36px",
          } as React.CSSProperties
        }
      />
      </div>
    </form>
  );
}
