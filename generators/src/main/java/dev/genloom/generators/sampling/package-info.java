/**
 * Samplers with the semantics of diffusers 0.30.3's schedulers, built from a diffusers {@code
 * scheduler_config.json} by {@link dev.genloom.generators.sampling.Samplers}: DDIM, DPM-Solver++
 * (multistep), Euler, Euler ancestral and flow-matching Euler; classifier-free guidance with
 * guidance rescale; and flow-matching Euler on Movie Gen's linear-quadratic schedule for the video
 * DiT.
 */
package dev.genloom.generators.sampling;
