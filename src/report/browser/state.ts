import type { ReportData } from '../report-data.js';
import { byId } from './dom.js';
import { colour } from './format.js';

/** The report the page renders: its data (the page's JSON block), where it goes, and what sections share. */
export interface Report {
  data: ReportData;
  /** The element the sections are appended to. */
  app: HTMLElement;
  /** The run's judges, in the order of the ASR rows. */
  judges: string[];
  /** Each judge's colour in the ASR chart and the category bars. */
  judgeColour: (judge: string) => string;
  /** The early-refusal window, in words (and tokens). */
  earlyK: number;
}

export function loadReport(): Report {
  const data = JSON.parse(byId('report-data').textContent ?? '') as ReportData;
  const judges: string[] = [];
  for (const r of data.asr) if (!judges.includes(r.judge)) judges.push(r.judge);
  const colours = new Map<string, string>();
  judges.forEach((j, i) => colours.set(j, colour(i)));
  return {
    data,
    app: byId('app'),
    judges,
    judgeColour: (judge) => colours.get(judge) ?? colour(0),
    earlyK: data.positions.k,
  };
}
