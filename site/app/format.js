// Number formatting. GB = 10^9 bytes (as GPUs are sold), GiB = 2^30 bytes (as nvidia-smi / PyTorch report).
import { getLang } from "./i18n.js";

export const GB = 1e9;
export const GiB = 2 ** 30;

function locale() {
  return getLang() === "zh-CN" ? "zh-CN" : "en-US";
}

export function fmtNum(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x);
}

export function fmtInt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 0 }).format(x);
}

export const gb = (bytes) => fmtNum(bytes / GB, 2);
export const gib = (bytes) => fmtNum(bytes / GiB, 2);

/** 8030261248 -> "8.03 B" (parameter counts). */
export function fmtParams(n) {
  if (n === null || n === undefined) return "—";
  const a = Math.abs(n);
  if (a >= 1e12) return `${fmtNum(n / 1e12, 2)} T`;
  if (a >= 1e9) return `${fmtNum(n / 1e9, 2)} B`;
  if (a >= 1e6) return `${fmtNum(n / 1e6, 2)} M`;
  if (a >= 1e3) return `${fmtNum(n / 1e3, 1)} K`;
  return fmtInt(n);
}

export function fmtPct(x, digits = 0) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  return `${fmtNum(x * 100, digits)}%`;
}

export function fmtUsd(x, digits = 0) {
  if (x === null || x === undefined) return "—";
  return new Intl.NumberFormat(locale(), { style: "currency", currency: "USD", maximumFractionDigits: digits, minimumFractionDigits: digits }).format(x);
}

/** Exact integer bytes with digit grouping (what the tests compare against the CLI). */
export function fmtBytes(bytes) {
  return new Intl.NumberFormat("en-US").format(bytes);
}
