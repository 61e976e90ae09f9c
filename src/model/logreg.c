/*
 * logreg.c - the logistic regression reported beside the gradient-boosted
 * model: what a simpler, well-understood model gets from the same features.
 * Features are standardised with the training mean and deviation (missing
 * values become the mean); the weights minimise the log loss plus an L2
 * penalty, found by Newton's method (the Hessian is (d+1)^2, tiny here).
 */
#include "model/model_internal.h"

#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double value(const struct logreg *m, const float *row, int j)
{
    double v = row[j];
    if (isnan(v))
        return 0; /* the mean, standardised */
    return (v - m->mean[j]) / m->scale[j];
}

/* Solves A x = b (n x n, A symmetric positive definite) by Cholesky, in place. */
static int solve(double *a, double *b, int n)
{
    for (int j = 0; j < n; j++) {
        double s = a[j * n + j];
        for (int k = 0; k < j; k++)
            s -= a[j * n + k] * a[j * n + k];
        if (s <= 1e-12)
            return -1;
        a[j * n + j] = sqrt(s);
        for (int i = j + 1; i < n; i++) {
            double t = a[i * n + j];
            for (int k = 0; k < j; k++)
                t -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = t / a[j * n + j];
        }
    }
    for (int i = 0; i < n; i++) {
        double t = b[i];
        for (int k = 0; k < i; k++)
            t -= a[i * n + k] * b[k];
        b[i] = t / a[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double t = b[i];
        for (int k = i + 1; k < n; k++)
            t -= a[k * n + i] * b[k];
        b[i] = t / a[i * n + i];
    }
    return 0;
}

int logreg_fit(struct logreg *m, const float *x, const float *y, size_t n, int d, double l2)
{
    memset(m, 0, sizeof *m);
    m->d = d;
    m->mean = xcalloc((size_t)d, sizeof *m->mean);
    m->scale = xcalloc((size_t)d, sizeof *m->scale);
    m->w = xcalloc((size_t)d + 1, sizeof *m->w);
    for (int j = 0; j < d; j++) {
        double s = 0, ss = 0, c = 0;
        for (size_t i = 0; i < n; i++) {
            double v = x[i * (size_t)d + (size_t)j];
            if (isnan(v))
                continue;
            s += v;
            ss += v * v;
            c++;
        }
        m->mean[j] = c ? s / c : 0;
        double var = c ? ss / c - m->mean[j] * m->mean[j] : 0;
        m->scale[j] = var > 1e-12 ? sqrt(var) : 1;
    }
    int p = d + 1;
    double *h = xmalloc((size_t)p * (size_t)p * sizeof *h);
    double *g = xmalloc((size_t)p * sizeof *g);
    double *z = xmalloc((size_t)p * sizeof *z);
    double prev = INFINITY;
    for (int iter = 0; iter < 30; iter++) {
        memset(h, 0, (size_t)p * (size_t)p * sizeof *h);
        memset(g, 0, (size_t)p * sizeof *g);
        double loss = 0;
        for (size_t i = 0; i < n; i++) {
            const float *row = x + i * (size_t)d;
            for (int j = 0; j < d; j++)
                z[j] = value(m, row, j);
            z[d] = 1;
            double eta = 0;
            for (int j = 0; j < p; j++)
                eta += m->w[j] * z[j];
            double pr = 1 / (1 + exp(-eta));
            double yi = y[i];
            loss -= yi * log(pr + 1e-12) + (1 - yi) * log(1 - pr + 1e-12);
            double r = pr - yi, wgt = pr * (1 - pr);
            for (int j = 0; j < p; j++) {
                g[j] += r * z[j];
                double wz = wgt * z[j];
                for (int k = 0; k <= j; k++)
                    h[j * p + k] += wz * z[k];
            }
        }
        for (int j = 0; j < p; j++)
            for (int k = 0; k < j; k++)
                h[k * p + j] = h[j * p + k];
        for (int j = 0; j < d; j++) { /* the intercept is not penalised */
            g[j] += l2 * (double)n * m->w[j];
            h[j * p + j] += l2 * (double)n;
            loss += 0.5 * l2 * (double)n * m->w[j] * m->w[j];
        }
        h[d * p + d] += 1e-9 * (double)n;
        if (solve(h, g, p))
            break;
        for (int j = 0; j < p; j++)
            m->w[j] -= g[j];
        if (fabs(prev - loss) < 1e-7 * (fabs(loss) + 1))
            break;
        prev = loss;
    }
    free(h);
    free(g);
    free(z);
    return 0;
}

void logreg_predict(const struct logreg *m, const float *x, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * (size_t)m->d;
        double eta = m->w[m->d];
        for (int j = 0; j < m->d; j++)
            eta += m->w[j] * value(m, row, j);
        out[i] = (float)(1 / (1 + exp(-eta)));
    }
}

void logreg_free(struct logreg *m)
{
    free(m->mean);
    free(m->scale);
    free(m->w);
    memset(m, 0, sizeof *m);
}
