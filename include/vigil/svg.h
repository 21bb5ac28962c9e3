/*
 * svg.h - small charts as inline SVG, for documents that must print on
 * paper and run no script (the review report, report.h).
 *
 * Each chart is one <svg> element with a data-chart="ID" attribute (so a
 * test or a reader can find every chart), a <title> for screen readers,
 * its own legend and axis labels, and fixed sizes in CSS pixels that fit
 * an A4 page. Colours come from the caller; the report uses a palette that
 * colour-blind readers can tell apart (Okabe and Ito).
 *
 * Every string is escaped; numbers that are not finite or are negative
 * are drawn as zero. Output goes to a stdio stream; a write error shows in
 * ferror(out) for the caller to check once at the end.
 */
#ifndef VIGIL_SVG_H
#define VIGIL_SVG_H

#include <stdio.h>

/* One stacked part of every column or bar. */
struct vg_svg_series {
	const char *label;
	const char *color;	/* "#rrggbb" */
};

/* Stacked columns, e.g. one a day: values[c * n_series + s]. */
struct vg_svg_columns {
	const char *id, *title;
	int width, height;		/* the plot and its labels, in px */
	int n_cols, n_series;
	const char *const *col_labels;	/* n_cols; a label is drawn under
					 * the first column and then about
					 * every tenth of the width */
	const struct vg_svg_series *series;
	const double *values;
	double max;			/* full scale (e.g. 24 h of seconds) */
	double y_step;			/* a grid line every y_step ... */
	double y_div;			/* ... labelled value / y_div ... */
	const char *y_unit;		/* ... followed by this, e.g. " h" */
};

/* Horizontal stacked bars, one a row: values[r * n_series + s]. */
struct vg_svg_bars {
	const char *id, *title;
	int width;			/* the height follows from n_rows */
	int n_rows, n_series;
	const char *const *row_labels;
	const struct vg_svg_series *series;
	const double *values;
	double max;			/* full scale; 0: the largest row total */
	const double *markers;		/* per row, NULL for none: a tick, e.g.
					 * the retention limit */
	const char *marker_label;	/* legend for the ticks */
	const char *unit;		/* after each row's total, e.g. " days" */
};

void vg_svg_columns(FILE *out, const struct vg_svg_columns *c);
void vg_svg_bars(FILE *out, const struct vg_svg_bars *b);

/* Write s with & < > " ' escaped, for XML or HTML text and attributes. */
void vg_xml_escape(FILE *out, const char *s);

#endif
