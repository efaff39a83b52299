"""Reference samplers (the formulas of Hugging Face diffusers' DDIM, DPM-Solver and flow-matching schedulers).

All samplers take explicit randomness (init noise, per-step noise) so golden runs record every draw.
`eps_fn(x, t)` is a callable returning the model output for latent x [B,...] at timestep t
(python float; discrete 0..999 for SD schedules, sigma in [0,1] for flow matching).  Use
`cfg_eps_fn` to wrap a conditional denoiser with classifier-free guidance as ONE batched forward.
"""
import math

import torch

# SD1.x schedule (diffusers scaled_linear; SD1.5 scheduler_config: beta_start 0.00085, beta_end 0.012,
# 1000 steps, steps_offset 1, set_alpha_to_one False).
BETA_START, BETA_END, NUM_TRAIN_TIMESTEPS = 0.00085, 0.012, 1000
STEPS_OFFSET, SET_ALPHA_TO_ONE = 1, False


def sd_betas(n=NUM_TRAIN_TIMESTEPS, beta_start=BETA_START, beta_end=BETA_END):
    # float32 like diffusers: torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=torch.float32) ** 2
    return torch.linspace(beta_start ** 0.5, beta_end ** 0.5, n, dtype=torch.float32) ** 2


def sd_alphas_cumprod(n=NUM_TRAIN_TIMESTEPS):
    return torch.cumprod(1.0 - sd_betas(n), dim=0)


def leading_timesteps(steps, n=NUM_TRAIN_TIMESTEPS, offset=STEPS_OFFSET):
    """diffusers "leading" spacing: arange(N) * (n // N), reversed, + steps_offset."""
    ratio = n // steps
    return [int(i * ratio + offset) for i in reversed(range(steps))]


def schedule_spec():
    """NoiseSchedule dict (proto3 JSON names)."""
    return {"type": "scaled_linear", "betaStart": BETA_START, "betaEnd": BETA_END,
            "numTrainTimesteps": NUM_TRAIN_TIMESTEPS, "stepsOffset": STEPS_OFFSET,
            "setAlphaToOne": SET_ALPHA_TO_ONE}


def add_noise(x0, noise, t, alphas_cumprod=None):
    """q(x_t | x0) = sqrt(a_t) x0 + sqrt(1 - a_t) eps  (t: LongTensor [B])."""
    ac = (alphas_cumprod if alphas_cumprod is not None else sd_alphas_cumprod())[t]
    ac = ac.view(-1, *([1] * (x0.dim() - 1)))
    return ac.sqrt() * x0 + (1 - ac).sqrt() * noise


def cfg_eps_fn(model, cond, uncond, guidance_scale):
    """model(x, t_tensor[B], ctx) -> eps.  Returns eps_fn doing cond+uncond as one batch:
    eps = eps_u + w (eps_c - eps_u)."""
    ctx = torch.cat([uncond, cond], 0)

    def fn(x, t):
        xx = torch.cat([x, x], 0)
        tt = torch.full((xx.shape[0],), float(t), dtype=torch.float32)
        out = model(xx, tt, ctx)
        eu, ec = out.chunk(2, 0)
        return eu + guidance_scale * (ec - eu)
    return fn


@torch.no_grad()
def ddim_sample(eps_fn, init_noise, steps, eta=0.0, step_noise=None, alphas_cumprod=None, callback=None):
    """DDIM (diffusers scheduling_ddim.py, clip_sample False, prediction epsilon).
    init_noise: x_T (init_noise_sigma = 1).  step_noise: [steps, *x.shape] used when eta > 0."""
    ac = (alphas_cumprod if alphas_cumprod is not None else sd_alphas_cumprod()).double()
    final_ac = torch.tensor(1.0, dtype=torch.float64) if SET_ALPHA_TO_ONE else ac[0]
    ts = leading_timesteps(steps)
    ratio = NUM_TRAIN_TIMESTEPS // steps
    x = init_noise.clone()
    for i, t in enumerate(ts):
        eps = eps_fn(x, t)
        a_t = ac[t]
        prev = t - ratio
        a_prev = ac[prev] if prev >= 0 else final_ac
        x0 = (x - (1 - a_t).sqrt().float() * eps) / a_t.sqrt().float()
        var = ((1 - a_prev) / (1 - a_t)) * (1 - a_t / a_prev)
        sigma = eta * var.sqrt()
        x = a_prev.sqrt().float() * x0 + (1 - a_prev - sigma ** 2).sqrt().float() * eps
        if eta > 0:
            x = x + sigma.float() * step_noise[i]
        if callback:
            callback(i, t, x)
    return x


def dpmpp2m_timesteps(steps, n=NUM_TRAIN_TIMESTEPS, offset=STEPS_OFFSET):
    """diffusers 0.30.3 DPMSolverMultistepScheduler.set_timesteps, timestep_spacing "leading" (what a
    leading-spacing config with steps_offset gives; lambda_min_clipped -inf, so last_timestep = n):
    arange(steps + 1) * (n // (steps + 1)), reversed, the last (0) dropped, + steps_offset.
    Unlike DDIM's leading spacing, the ratio divides by steps + 1."""
    ratio = n // (steps + 1)
    return [int(i * ratio + offset) for i in range(steps, 0, -1)]


def dpmpp2m_sigmas(steps, alphas_cumprod=None):
    """Timesteps (dpmpp2m_timesteps) and the diffusers DPMSolverMultistep sigmas: sigma(t) =
    sqrt((1 - a_t)/a_t) from the float32 alphas_cumprod, interpolated at the timesteps (np.interp;
    exact at integer timesteps), final sigma 0 (final_sigmas_type "zero"), stored as float32."""
    ac = alphas_cumprod if alphas_cumprod is not None else sd_alphas_cumprod()
    all_sig = ((1 - ac) / ac) ** 0.5  # float32, as diffusers computes it
    ts = dpmpp2m_timesteps(steps)
    sig = [float(all_sig[t]) for t in ts] + [0.0]
    return ts, sig


@torch.no_grad()
def dpmpp2m_sample(eps_fn, init_noise, steps, alphas_cumprod=None, callback=None):
    """DPM-Solver++(2M) (diffusers scheduling_dpmsolver_multistep.py: algorithm_type dpmsolver++,
    solver_order 2, solver_type midpoint, lower_order_final True, final_sigmas_type zero).
    Step 0 and the last step are first order (the last one because the final sigma is zero,
    which makes diffusers use first order there; with < 15 steps lower_order_final also applies)."""
    ts, sig = dpmpp2m_sigmas(steps, alphas_cumprod)

    def a_s(s):  # _sigma_to_alpha_sigma_t
        a = 1.0 / math.sqrt(s * s + 1.0)
        return a, s * a

    def lam(s):
        a, st = a_s(s)
        return math.log(a) - math.log(st) if st > 0 else float("inf")

    x = init_noise.clone()
    prev_x0 = None
    for i, t in enumerate(ts):
        eps = eps_fn(x, t)
        alpha_s0, sigma_s0 = a_s(sig[i])
        x0 = (x - sigma_s0 * eps) / alpha_s0  # convert_model_output (dpmsolver++, epsilon)
        alpha_t, sigma_t = a_s(sig[i + 1])
        last = i == len(ts) - 1
        if prev_x0 is None or last:
            if sigma_t == 0.0:  # h = inf: x_t = alpha_t * x0 with alpha_t = 1
                x = alpha_t * x0
            else:
                h = lam(sig[i + 1]) - lam(sig[i])
                x = (sigma_t / sigma_s0) * x - alpha_t * (math.exp(-h) - 1.0) * x0
        else:
            lt, ls0, ls1 = lam(sig[i + 1]), lam(sig[i]), lam(sig[i - 1])
            h, h0 = lt - ls0, ls0 - ls1
            r0 = h0 / h
            d0, d1 = x0, (1.0 / r0) * (x0 - prev_x0)
            x = (sigma_t / sigma_s0) * x - alpha_t * (math.exp(-h) - 1.0) * d0 \
                - 0.5 * alpha_t * (math.exp(-h) - 1.0) * d1
        prev_x0 = x0
        if callback:
            callback(i, t, x)
    return x


# ------------------------------------------------------------------ flow matching (video)

def linear_quadratic_schedule(num_steps, threshold_noise=0.025, linear_steps=None):
    """Movie Gen linear-quadratic schedule as in diffusers pipelines/mochi (returns num_steps sigmas,
    from 1.0 downwards; the terminal 0 is appended by flow_euler_sigmas)."""
    if linear_steps is None:
        linear_steps = num_steps // 2
    linear = [i * threshold_noise / linear_steps for i in range(linear_steps)]
    step_diff = linear_steps - threshold_noise * num_steps
    quad_steps = num_steps - linear_steps
    quad_coef = step_diff / (linear_steps * quad_steps ** 2)
    lin_coef = threshold_noise / linear_steps - 2 * step_diff / (quad_steps ** 2)
    const = quad_coef * (linear_steps ** 2)
    quad = [quad_coef * (i ** 2) + lin_coef * i + const for i in range(linear_steps, num_steps)]
    return [1.0 - x for x in linear + quad]


def flow_euler_sigmas(steps, schedule="linear_quadratic"):
    if schedule == "linear_quadratic":
        s = linear_quadratic_schedule(steps)
    elif schedule == "linear":
        s = [1.0 - i / steps for i in range(steps)]
    else:
        raise ValueError(schedule)
    return s + [0.0]


@torch.no_grad()
def flow_euler_sample(v_fn, init_noise, steps, schedule="linear_quadratic", callback=None):
    """Flow-matching Euler: x_sigma = (1-sigma) x0 + sigma eps, v = eps - x0,
    x <- x + (sigma_next - sigma) v.  v_fn(x, sigma) gets sigma in [0,1] (the graph multiplies by
    timestep_scale 1000 if it wants)."""
    sig = flow_euler_sigmas(steps, schedule)
    x = init_noise.clone()
    for i in range(steps):
        v = v_fn(x, sig[i])
        x = x + (sig[i + 1] - sig[i]) * v
        if callback:
            callback(i, sig[i], x)
    return x


def cfg_velocity_fn(model, cond, uncond, guidance_scale, timestep_scale=1000.0, **extra):
    """model(x, t[B], ctx, **extra) -> v; CFG as one batch (extra tensors are duplicated)."""
    ctx = torch.cat([uncond, cond], 0)
    ext = {k: torch.cat([v, v], 0) for k, v in extra.items()}

    def fn(x, sigma):
        xx = torch.cat([x, x], 0)
        tt = torch.full((xx.shape[0],), float(sigma) * timestep_scale, dtype=torch.float32)
        out = model(xx, tt, ctx, **ext)
        vu, vc = out.chunk(2, 0)
        return vu + guidance_scale * (vc - vu)
    return fn
