/**
 * A run's report: the {@link dev.genloom.evaluation.report.ReportModel} bound to report.json, and
 * its self-contained HTML view.
 */
package dev.genloom.evaluation.report;
