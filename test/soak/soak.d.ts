// Types for soak.js (plain JavaScript, so `pnpm soak` runs it with node alone).
export type Mode = 'healthy' | '503' | 'hang' | 'slow' | 'broken' | 'reset';
export interface Schedule {
  phases: { at: number; mode: Mode }[];
  rotateEvery: number;
  removeAfter: number;
}
export const AVOIDABLE_AFTER: number;
export const MAX_AGE: number;
export function scheduleFor(duration: number): Schedule;
export interface ReceiverFigures {
  receiver: string;
  sent: number;
  shed: number;
  answered: number;
  noAnswer: number;
  validAccepted: number;
  validEligible: number;
  validRefusedAvoidable: number;
  validRefusedOther: number;
  invalidAccepted: number;
  invalidRefused: number;
  retiredAccepted: number;
  retiredRefused: number;
  status5xx: number;
  status503WithKeys: number;
  refusals: Record<string, number>;
  removalLag: Record<
    string,
    { removedAt: number; firstRefusalAfter: number | null; held: boolean }
  >;
  keyServer: {
    requests: number;
    conditional: number;
    ok200: number;
    notModified: number;
    failed: number;
  };
}
export interface SoakResult {
  duration: number;
  rate: number;
  receivers: ReceiverFigures[];
  unhandled: number;
}
export function runSoak(options?: {
  duration?: number;
  rate?: number;
  schedule?: Schedule;
  maxInFlight?: number;
}): Promise<SoakResult>;
export function totals(result: SoakResult): {
  invalidAccepted: number;
  validRefusedAvoidable: number;
  status5xx: number;
  noAnswer: number;
  validAccepted: number;
  validEligible: number;
  notModified: number;
  failedOnPurpose: number;
};
