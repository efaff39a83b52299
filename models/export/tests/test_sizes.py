"""Size-constraint arithmetic: multipleOf = VAE factor x 2**num_upsamplers, the default size from the UNet's
sample_size, the maximum rounded down to multipleOf, SDXL's buckets, and the sizes the export checks."""
import types

import pytest

from genloom_export import stable_diffusion as S
from genloom_export.common import Refused


def pipeline(vae_levels, unet_levels, sample_size, family="sd"):
    """The part of stable_diffusion.Pipeline that Sizes reads, computed from configs as Pipeline does."""
    p = types.SimpleNamespace(family=family)
    p.vae_factor = 2 ** (vae_levels - 1)
    p.num_upsamplers = unet_levels - 1
    p.multiple_of = p.vae_factor * 2 ** p.num_upsamplers
    p.default_size = (sample_size * p.vae_factor, sample_size * p.vae_factor)
    return p


def test_sd15_shape():
    s = S.Sizes(pipeline(4, 4, 64))
    assert s.multiple_of == 64 and s.default == (512, 512) and s.max == (1024, 1024)
    assert s.constraint() == {"multipleOf": 64, "minWidth": 64, "maxWidth": 1024, "minHeight": 64, "maxHeight": 1024}
    assert s.trace == (576, 576)
    assert s.checks == [(512, 512), (768, 512), (512, 1024), (64, 64)]


def test_fixture_shape():
    s = S.Sizes(pipeline(4, 3, 8))
    assert s.multiple_of == 32 and s.default == (64, 64) and s.max == (128, 128)
    assert s.checks == [(64, 64), (96, 64), (64, 128), (32, 32)] and s.trace == (96, 96)


def test_maximum_is_rounded_down_to_the_multiple():
    s = S.Sizes(pipeline(4, 4, 64), width=576, height=640)
    assert s.max == (1152, 1280)
    s = S.Sizes(pipeline(4, 3, 8), width=96, height=160)
    assert s.multiple_of == 32 and s.max == (192, 320)
    assert s.checks[1] == (128, 160), "1.5 x 96 = 144 rounds down to 128"


def test_sdxl_buckets_by_default_only_at_1024():
    s = S.Sizes(pipeline(4, 3, 128, "sdxl"))
    assert s.default == (1024, 1024) and s.multiple_of == 32
    assert s.buckets == S.SDXL_BUCKETS and len(s.buckets) == 9
    assert s.constraint()["buckets"][1] == {"width": 1152, "height": 896}
    assert S.Sizes(pipeline(4, 3, 8, "sdxl")).buckets == []
    assert S.Sizes(pipeline(4, 4, 128)).buckets == [], "an SD 1.x/2.x pipeline gets no buckets"
    assert "buckets" not in S.Sizes(pipeline(4, 4, 64)).constraint()


def test_explicit_buckets_and_maximum():
    s = S.Sizes(pipeline(4, 3, 8, "sdxl"), buckets=[(64, 64), (96, 64), (64, 128)], max_width=160, max_height=128)
    assert s.constraint() == {"multipleOf": 32, "minWidth": 32, "maxWidth": 160, "minHeight": 32, "maxHeight": 128,
                              "buckets": [{"width": 64, "height": 64}, {"width": 96, "height": 64},
                                          {"width": 64, "height": 128}]}
    with pytest.raises(Refused, match="bucket 192x64 exceeds"):
        S.Sizes(pipeline(4, 3, 8, "sdxl"), buckets=[(192, 64)])


def test_size_parsing():
    assert S.parse_sizes("64x64,96x64, 64X128") == [(64, 64), (96, 64), (64, 128)]
    with pytest.raises(Exception, match="WIDTHxHEIGHT"):
        S.parse_size("64")
