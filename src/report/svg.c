/*
 * svg.c - inline SVG charts (svg.h). Plain stdio: one pass, no DOM.
 *
 * Each series of a column chart is one <path> with a sub-path per column,
 * not a <rect> per column: a year of days for ten cameras stays a few
 * hundred kilobytes of HTML instead of megabytes.
 */
#include <math.h>
#include <string.h>

#include "vigil/svg.h"

#define FONT "font-family=\"DejaVu Sans, Arial, sans-serif\""
#define LEGEND_H 18
#define AXIS "#555555"
#define GRID "#dddddd"

void vg_xml_escape(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

static double clean(double v)
{
	return isfinite(v) && v > 0 ? v : 0;
}

static void open_svg(FILE *out, const char *id, const char *title, int w, int h)
{
	fprintf(out, "<svg class=\"chart\" data-chart=\"");
	vg_xml_escape(out, id);
	fprintf(out, "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" role=\"img\" " FONT " font-size=\"10\"><title>", w, h, w, h);
	vg_xml_escape(out, title);
	fputs("</title>\n", out);
}

/* One line of swatches and labels at y, wrapping is not needed for the
 * handful of series a report has (the caller keeps labels short). */
static void legend(FILE *out, const struct vg_svg_series *s, int n, int x, int y,
		   const char *marker_label)
{
	for (int i = 0; i < n; i++) {
		fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"", x, y);
		vg_xml_escape(out, s[i].color);
		fprintf(out, "\" stroke=\"#777\" stroke-width=\"0.5\"/><text x=\"%d\" y=\"%d\">",
			x + 14, y + 9);
		vg_xml_escape(out, s[i].label);
		fputs("</text>\n", out);
		x += 24 + 6 * (int)strlen(s[i].label ? s[i].label : "");
	}
	if (marker_label) {
		fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\" "
			"stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">", x + 4, y - 1, x + 4, y + 11,
			x + 10, y + 9);
		vg_xml_escape(out, marker_label);
		fputs("</text>\n", out);
	}
}

static void number(FILE *out, double v)
{
	if (v >= 10 || v == floor(v))
		fprintf(out, "%.0f", v);
	else
		fprintf(out, "%.1f", v);
}

void vg_svg_columns(FILE *out, const struct vg_svg_columns *c)
{
	const int left = 42, right = 6, top = 6, bottom = 16 + LEGEND_H + 4;
	double pw = c->width - left - right, ph = c->height - top - bottom;
	double cw = c->n_cols > 0 ? pw / c->n_cols : pw, max = c->max > 0 ? c->max : 1;
	int every = c->n_cols > 10 ? (c->n_cols + 9) / 10 : 1;

	open_svg(out, c->id, c->title, c->width, c->height);
	/* grid and y labels */
	for (double v = 0; c->y_step > 0 && v <= max + 1e-9; v += c->y_step) {
		double y = top + ph - ph * v / max;

		fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"0.5\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", left,
			y, left + pw, y, GRID, left - 4, y + 3);
		number(out, v / (c->y_div > 0 ? c->y_div : 1));
		vg_xml_escape(out, c->y_unit);
		fputs("</text>\n", out);
	}
	/* one path per series, stacked from the bottom */
	for (int s = 0; s < c->n_series; s++) {
		fputs("<path fill=\"", out);
		vg_xml_escape(out, c->series[s].color);
		fputs("\" shape-rendering=\"crispEdges\" d=\"", out);
		for (int i = 0; i < c->n_cols; i++) {
			double below = 0, v = clean(c->values[i * c->n_series + s]), h;

			for (int k = 0; k < s; k++)
				below += clean(c->values[i * c->n_series + k]);
			if (below >= max || v <= 0)
				continue;
			if (below + v > max)
				v = max - below;
			h = ph * v / max;
			/* A hair wider than the step, so that rounding never
			 * leaves a white line between two full days. */
			fprintf(out, "M%.2f %.2fh%.2fv%.2fh%.2fz", left + i * cw,
				top + ph - ph * below / max - h, cw + 0.4, h, -(cw + 0.4));
		}
		fputs("\"/>\n", out);
	}
	/* x axis and labels */
	fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", left,
		top + ph, left + pw, top + ph, AXIS);
	for (int i = 0; i < c->n_cols; i += every) {
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", left + i * cw, top + ph + 12);
		vg_xml_escape(out, c->col_labels[i]);
		fputs("</text>\n", out);
	}
	legend(out, c->series, c->n_series, left, c->height - LEGEND_H, NULL);
	fputs("</svg>\n", out);
}

void vg_svg_bars(FILE *out, const struct vg_svg_bars *b)
{
	const int label_w = 150, total_w = 70, row_h = 20, top = 4;
	int height = top + b->n_rows * row_h + 8 + LEGEND_H + 4;
	double pw = b->width - label_w - total_w, max = b->max;

	if (max <= 0)
		for (int r = 0; r < b->n_rows; r++) {
			double t = 0;

			for (int s = 0; s < b->n_series; s++)
				t += clean(b->values[r * b->n_series + s]);
			if (b->markers && clean(b->markers[r]) > t)
				t = clean(b->markers[r]);
			if (t > max)
				max = t;
		}
	if (max <= 0)
		max = 1;
	open_svg(out, b->id, b->title, b->width, height);
	for (int r = 0; r < b->n_rows; r++) {
		double y = top + r * row_h, x = label_w, total = 0;

		fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", label_w - 6,
			y + row_h / 2.0 + 3);
		vg_xml_escape(out, b->row_labels[r]);
		fputs("</text>\n", out);
		for (int s = 0; s < b->n_series; s++) {
			double v = clean(b->values[r * b->n_series + s]), w = pw * v / max;

			total += v;
			if (w <= 0)
				continue;
			fprintf(out, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"",
				x, y + 3, w, row_h - 6);
			vg_xml_escape(out, b->series[s].color);
			fputs("\"/>\n", out);
			x += w;
		}
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", x + 4, y + row_h / 2.0 + 3);
		number(out, total);
		vg_xml_escape(out, b->unit);
		fputs("</text>\n", out);
		if (b->markers && clean(b->markers[r]) > 0) {
			double mx = label_w + pw * clean(b->markers[r]) / max;

			fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				"stroke=\"#000\" stroke-width=\"2\"/>\n", mx, y + 1, mx, y + row_h - 1);
		}
	}
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\"/>\n", label_w,
		top, label_w, top + b->n_rows * row_h, AXIS);
	legend(out, b->series, b->n_series, label_w, height - LEGEND_H,
	       b->markers ? b->marker_label : NULL);
	fputs("</svg>\n", out);
}
