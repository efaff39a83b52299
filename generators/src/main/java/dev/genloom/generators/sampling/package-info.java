/**
 * Samplers with diffusers' formulas: DDIM with eta, DPM-Solver++(2M) and flow-matching Euler on
 * Movie Gen's linear-quadratic schedule.
 */
package dev.genloom.generators.sampling;
