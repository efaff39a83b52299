/**
 * Blind pairwise human evaluation of a run: the study database, the rating server and pages, and
 * the results ({@link dev.genloom.evaluation.humaneval.HumanEvalSummary}).
 */
package dev.genloom.evaluation.humaneval;
