/*
 * timefmt.c - see timefmt.h. Calendar arithmetic is done by hand (no
 * timegm/gmtime_r) so it is thread-safe, locale-free and fast.
 */
#include "common/timefmt.h"


int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int digits(const char *s, size_t n, size_t *i, int count, int *out)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    *out = v;
    return 0;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int timefmt_parse_iso(const char *s, size_t n, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i = 0;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac_ms = 0;
    if (digits(s, n, &i, 4, &y) || i >= n || s[i++] != '-' || digits(s, n, &i, 2, &mo) ||
        i >= n || s[i++] != '-' || digits(s, n, &i, 2, &d))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1)
        return -1;
    int dim = mdays[mo - 1] + (mo == 2 && is_leap(y));
    if (d > dim)
        return -1;
    int offset_min = 0;
    if (i < n) {
        if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
            return -1;
        i++;
        if (digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || digits(s, n, &i, 2, &mi))
            return -1;
        if (i < n && s[i] == ':') {
            i++;
            if (digits(s, n, &i, 2, &sec))
                return -1;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                i++;
                int nd = 0;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    if (nd < 3)
                        frac_ms = frac_ms * 10 + (s[i] - '0');
                    nd++;
                    i++;
                }
                if (nd == 0)
                    return -1;
                for (; nd < 3; nd++)
                    frac_ms *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
        if (i < n) {
            if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int sign = s[i] == '-' ? -1 : 1, oh, om = 0;
                i++;
                if (digits(s, n, &i, 2, &oh))
                    return -1;
                if (i < n && s[i] == ':')
                    i++;
                if (i < n && digits(s, n, &i, 2, &om))
                    return -1;
                if (oh > 23 || om > 59)
                    return -1;
                offset_min = sign * (oh * 60 + om);
            } else {
                return -1;
            }
        }
        if (i != n)
            return -1;
    }
    int64_t days = timefmt_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
    if (secs < 0)
        return -1;
    *ms = secs * 1000 + frac_ms;
    return 0;
}

void timefmt_iso(int64_t ms, char out[TIMEFMT_ISO_LEN])
{
    if (ms < 0)
        ms = 0;
    int64_t secs = ms / 1000;
    int frac = (int)(ms % 1000);
    int64_t days = secs / 86400;
    int rem = (int)(secs % 86400);
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    /* Written digit by digit: hot in logs and responses, and no format truncation games. */
    int fields[] = {y % 10000, (int)m, (int)d, rem / 3600, (rem / 60) % 60, rem % 60, frac};
    static const int widths[] = {4, 2, 2, 2, 2, 2, 3};
    static const char seps[] = "--T::.Z";
    char *p = out;
    for (int f = 0; f < 7; f++) {
        for (int k = widths[f] - 1; k >= 0; k--) {
            p[k] = (char)('0' + fields[f] % 10);
            fields[f] /= 10;
        }
        p += widths[f];
        *p++ = seps[f];
    }
    *p = '\0';
}
