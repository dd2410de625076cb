package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

var markColor = map[string]string{
	MarkFault:    "#d62728",
	MarkDetected: "#ff7f0e",
	MarkFenced:   "#7f7f7f",
	MarkAttached: "#1f77b4",
	MarkServing:  "#2ca02c",
	MarkReplaced: "#9467bd",
}

var markOrder = []string{MarkFault, MarkDetected, MarkFenced, MarkAttached, MarkServing, MarkReplaced}

// SVG draws one row per scenario on a shared axis of seconds after the fault: a bar
// from the fault to the moment the coordinator URL served again, and a mark for each
// moment. Scenarios that must not fail over show their fault and a "no failover" note.
func SVG(scenarios []Scenario) string {
	const (
		left, right, top, rowH, width = 250.0, 30.0, 60.0, 34.0, 1060.0
	)
	maxS := 10.0
	for i := range scenarios {
		for _, m := range scenarios[i].Marks() {
			maxS = math.Max(maxS, m.S)
		}
	}
	step := niceStep(maxS / 8)
	maxS = math.Ceil(maxS/step) * step
	plotW := width - left - right
	x := func(s float64) float64 { return left + s/maxS*plotW }
	height := top + rowH*float64(len(scenarios)) + 70
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15" font-weight="bold">Coordinator failover drill: seconds after the fault (production-equivalent time)</text>`+"\n", left-170)
	// grid and axis labels
	axisY := top + rowH*float64(len(scenarios))
	for s := 0.0; s <= maxS+1e-9; s += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#e0e0e0"/>`+"\n", x(s), top-8, x(s), axisY)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" fill="#555">%gs</text>`+"\n", x(s), axisY+16, s)
	}
	for i := range scenarios {
		sc := &scenarios[i]
		y := top + rowH*float64(i) + rowH/2
		name := sc.Name
		color := "#222"
		if !sc.OK {
			name += " (FAILED)"
			color = "#d62728"
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", left-10, y+4, color, html.EscapeString(name))
		if sc.ServingS != nil {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="8" fill="#fde0dc"><title>outage seen by clients: %.1fs</title></rect>`+"\n", x(0), y-4, x(*sc.ServingS)-x(0), *sc.ServingS)
		}
		if !sc.FailedOver {
			note := "no failover"
			if sc.Verdict != "" {
				note += ": the health check said " + sc.Verdict
			}
			if sc.ExpectFailover {
				note += " (a failover was expected)"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#555" font-style="italic">%s</text>`+"\n", x(0)+12, y+4, html.EscapeString(note))
		}
		for _, m := range sc.Marks() {
			fmt.Fprintf(&b, "%s\n", markShape(m.Name, x(m.S), y, fmt.Sprintf("%s at %.1fs", m.Name, m.S)))
		}
	}
	// legend
	ly := axisY + 42
	lx := left
	for _, name := range markOrder {
		fmt.Fprintf(&b, "%s\n", markShape(name, lx, ly, name))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+9, ly+4, name)
		lx += 95
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="24" height="8" fill="#fde0dc"/>`+"\n", lx, ly-4)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">clients see no coordinator</text>`+"\n", lx+30, ly+4)
	b.WriteString("</svg>\n")
	return b.String()
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// markShape draws a mark: filled circles, except "serving", a ring drawn over the
// "attached" dot it usually follows within a second.
func markShape(name string, cx, cy float64, title string) string {
	if name == MarkServing {
		return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="7.5" fill="none" stroke="%s" stroke-width="2.5"><title>%s</title></circle>`, cx, cy, markColor[name], title)
	}
	return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="5.5" fill="%s" stroke="white" stroke-width="1"><title>%s</title></circle>`, cx, cy, markColor[name], title)
}
