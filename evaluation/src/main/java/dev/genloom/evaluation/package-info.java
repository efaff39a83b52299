/** Metrics over generated sets: Fréchet distance and the statistics it is computed from. */
package dev.genloom.evaluation;
