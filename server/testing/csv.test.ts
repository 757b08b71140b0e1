import { describe, expect, it } from "vitest";
import { parseCsv, parseCsvRecords } from "./csv";

describe("parseCsv", () => {
  it("reads quoted cells, doubled quotes, CRLF and LF, and drops a leading BOM", () => {
    const text = '\uFEFFid,name,cost\r\na1,"Team ""A"", east",0.5\r\na2,"two\r\nlines",12\nb3,,0\r\n';
    expect(parseCsv(text)).toEqual([
      ["id", "name", "cost"],
      ["a1", 'Team "A", east', "0.5"],
      ["a2", "two\r\nlines", "12"],
      ["b3", "", "0"],
    ]);
  });

  it("keys rows by the header and skips blank lines", () => {
    expect(parseCsvRecords("id,requests\r\n\r\nk1,3\r\nk2,40\r\n")).toEqual([
      { id: "k1", requests: "3" },
      { id: "k2", requests: "40" },
    ]);
  });
});
