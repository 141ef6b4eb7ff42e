package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Median is the middle value of xs (the mean of the two middle ones for an
// even count), NaN for none. xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Percentile is the p-th percentile (0 < p ≤ 100) of xs by the nearest-rank
// method: the smallest value with at least p% of the values at or below it.
// NaN for none. xs is not changed.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 || p <= 0 || p > 100 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(rank, 1)-1]
}

// durationsMs turns durations into milliseconds.
func durationsMs(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// fmtNum writes x with at most prec decimals and thousands separators,
// trimming trailing zeros: 1234.5 → "1,234.5".
func fmtNum(x float64, prec int) string {
	if math.IsNaN(x) {
		return "–"
	}
	if math.IsInf(x, 0) {
		return "∞"
	}
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// fmtMB writes a byte count in MB with one decimal. MB here is 2^20 bytes,
// as /proc's "kB" (KiB) and ps mean it, so that the figures compare with the
// ones quoted in the issue and the README.
func fmtMB(bytes float64) string {
	return fmtNum(bytes/(1<<20), 1) + " MB"
}

// medianCell is "median (a, b, c)" with each value formatted by f; only the
// median when there is one value.
func medianCell(xs []float64, f func(float64) string) string {
	if len(xs) == 0 {
		return "–"
	}
	m := f(Median(xs))
	if len(xs) == 1 {
		return m
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = f(x)
	}
	return fmt.Sprintf("%s (%s)", m, strings.Join(parts, ", "))
}
