using HeadWise.Heads;
using HeadWise.Heads.Attribution;
using HeadWise.KvCache;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Heads;

/// <summary>Hooks, captures, attribution and KV caches on bf16 models (every family): unchanged behaviour, float32 views.</summary>
public class Bf16HooksTests
{
    public static TheoryData<string> Families => new(TinyModels.Families);
    public static TheoryData<string> Decoders => new(TinyModels.Decoders);

    [Theory, MemberData(nameof(Families))]
    public void Capturing_every_hook_point_leaves_the_bf16_output_bit_identical(string family)
    {
        using var model = TinyModels.BuildBf16(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(12, batch: 2);
        var plain = model.Forward(tokens);
        Assert.Equal(ScalarType.Float32, plain.dtype);
        var (hooked, cache) = model.RunWithFullCache(tokens);
        using var _ = cache;
        Assert.True(plain.Same(hooked), $"{family}: output changed by observation");
        Assert.All(cache.Names, n => Assert.Equal(ScalarType.Float32, cache[n].dtype));   // hooks see float32
    }

    [Theory, MemberData(nameof(Decoders))]
    public void Bf16_decoding_with_the_cache_gives_the_one_shot_logits(string family)
    {
        using var model = TinyModels.BuildBf16(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(10);
        var all = model.Forward(tokens);
        using var kv = new FullKvCache(model.Spec);
        var first = model.Forward(tokens.narrow(1, 0, 7), kv);
        var rest = Enumerable.Range(7, 3).Select(i => model.Forward(tokens.narrow(1, i, 1), kv)).ToList();
        var incremental = torch.cat([first, .. rest], 1);
        // The one-shot products (libtorch's bf16 GEMM) round every output to bf16, the decode steps' (Bf16Gemv) keep
        // float32: a relative 2^-9 per product output, a few products deep and through random (sharp) attention, so the
        // logits differ by a few 2^-8 of their scale (measured: up to 1.75%, qwen2). A cache that lost or misplaced a
        // position moves them by their own order of magnitude.
        float scale = all.abs().max().ToSingle(), diff = (all - incremental).abs().max().ToSingle();
        Assert.True(diff <= scale / 32, $"{family}: max diff {diff} with logits up to {scale}");
        Assert.Equal(2L * model.Spec.Layers * model.Spec.KvHeads * 10 * model.Spec.HeadDim * 2, kv.Bytes);
    }

    [Theory, MemberData(nameof(Decoders))]
    public void Direct_attribution_components_sum_to_the_bf16_logit(string family)
    {
        using var model = TinyModels.BuildBf16(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(9);
        var logits = model.Forward(tokens);
        var dla = DirectLogitAttribution.Compute(model, tokens, 7);
        // The components are float32 activations projected in float64; the model's logit rounds the normalised residual
        // to bf16 before its product (relative error up to 2^-9 per element): over 32 dims of unit scale, a few 1e-2.
        Assert.Equal(logits[0, 8, 7].ToSingle(), dla.Sum, 5e-2);
    }

    [Theory, MemberData(nameof(Decoders))]
    public void Ablating_a_head_changes_the_bf16_output_and_the_result_hook_edits_it(string family)
    {
        using var model = TinyModels.BuildBf16(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(8);
        var plain = model.Forward(tokens);
        var hooks = new HookSet();
        hooks.Add(HookNames.ForLayer(0).Result, r => { var e = r.clone(); e.select(2, 1).zero_(); return e; });
        var ablated = model.Forward(tokens, hooks: hooks);
        Assert.False(plain.Same(ablated));
    }
}
