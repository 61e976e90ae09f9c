/*
 * The loan calculator's rules and arithmetic, free of the DOM.
 *
 * The rules are deliberately easy to trip over (the demo exists to make
 * visitors struggle so Journey can notice), but each one is a rule a real
 * lender could have, and each rejection says plainly what to change:
 *   - amount: 1,000 to 50,000;
 *   - term vs amount: over 20,000 needs at least 36 months, under 5,000
 *     allows at most 24 months;
 *   - income is ANNUAL, at least 12,000: visitors who type a monthly figure
 *     (2,500) are told "Income too low".
 * Messages never echo the value typed (they are sent to analytics).
 */

export const MIN_AMOUNT = 1_000;
export const MAX_AMOUNT = 50_000;
export const LARGE_LOAN = 20_000; // above this, the term must be >= LONG_TERM
export const LONG_TERM = 36;
export const SMALL_LOAN = 5_000; // below this, the term must be <= SHORT_TERM
export const SHORT_TERM = 24;
export const MIN_ANNUAL_INCOME = 12_000;
export const TERMS = [12, 24, 36, 48, 60] as const;

export type LoanField = 'amount' | 'term' | 'income';

export interface LoanInput {
    amount: string;
    term: string;
    income: string;
}

export interface FieldError {
    field: LoanField;
    message: string;
}

export interface Quote {
    amount: number;
    termMonths: number;
    aprPercent: number;
    monthlyPayment: number;
    totalRepayable: number;
}

export type LoanResult = { ok: true; quote: Quote } | { ok: false; errors: FieldError[] };

const money = new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: 'USD',
    maximumFractionDigits: 0,
});
const cents = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

export function formatMoney(value: number, withCents = false): string {
    return (withCents ? cents : money).format(value);
}

/** Parses "25000", "25,000", "$25,000.50" or " 25 000 "; null if not a number. */
export function parseMoney(text: string): number | null {
    const s = text.replace(/[\s,$]/g, '');
    if (!/^\d+(\.\d{1,2})?$/.test(s)) return null;
    const n = Number(s);
    return Number.isFinite(n) ? n : null;
}

/** Representative APR by amount band: smaller loans cost more. */
export function aprFor(amount: number): number {
    if (amount < SMALL_LOAN) return 14.9;
    if (amount < 10_000) return 9.9;
    if (amount <= LARGE_LOAN) return 6.9;
    return 7.4;
}

/** Level monthly payment of an amortised loan. */
export function monthlyPayment(amount: number, termMonths: number, aprPercent: number): number {
    const r = aprPercent / 100 / 12;
    if (r === 0) return amount / termMonths;
    return (amount * r) / (1 - Math.pow(1 + r, -termMonths));
}

function checkAmount(text: string): FieldError | number {
    const err = (message: string): FieldError => ({ field: 'amount', message });
    if (text.trim() === '') return err('Enter the amount you want to borrow.');
    const amount = parseMoney(text);
    if (amount === null) return err('Enter the amount as a number, for example 12,000.');
    if (amount < MIN_AMOUNT) return err(`The smallest loan we offer is ${formatMoney(MIN_AMOUNT)}.`);
    if (amount > MAX_AMOUNT) return err(`The largest loan we offer is ${formatMoney(MAX_AMOUNT)}.`);
    return amount;
}

function checkTerm(text: string, amount: number | null): FieldError | number {
    const err = (message: string): FieldError => ({ field: 'term', message });
    const term = Number(text);
    if (text === '' || !(TERMS as readonly number[]).includes(term)) return err('Choose a term.');
    if (amount !== null && amount > LARGE_LOAN && term < LONG_TERM) {
        return err(`Loans over ${formatMoney(LARGE_LOAN)} need a term of at least ${LONG_TERM} months.`);
    }
    if (amount !== null && amount < SMALL_LOAN && term > SHORT_TERM) {
        return err(`Loans under ${formatMoney(SMALL_LOAN)} can be repaid over ${SHORT_TERM} months at most.`);
    }
    return term;
}

function checkIncome(text: string): FieldError | number {
    const err = (message: string): FieldError => ({ field: 'income', message });
    if (text.trim() === '') return err('Enter your income.');
    const income = parseMoney(text);
    if (income === null) return err('Enter your income as a number, for example 32,000.');
    if (income < MIN_ANNUAL_INCOME) {
        return err(`Income too low: we can lend to people earning at least ${formatMoney(MIN_ANNUAL_INCOME)}.`);
    }
    return income;
}

/** Validates the whole form; errors come in field order. */
export function calculateLoan(input: LoanInput): LoanResult {
    const amount = checkAmount(input.amount);
    const term = checkTerm(input.term, typeof amount === 'number' ? amount : null);
    const income = checkIncome(input.income);
    const errors = [amount, term, income].filter((r): r is FieldError => typeof r !== 'number');
    if (typeof amount !== 'number' || typeof term !== 'number' || errors.length > 0) {
        return { ok: false, errors };
    }
    const aprPercent = aprFor(amount);
    // Each instalment is rounded to the cent; the total is what is really paid.
    const payment = Math.round(monthlyPayment(amount, term, aprPercent) * 100) / 100;
    return {
        ok: true,
        quote: {
            amount,
            termMonths: term,
            aprPercent,
            monthlyPayment: payment,
            totalRepayable: Math.round(payment * term * 100) / 100,
        },
    };
}
