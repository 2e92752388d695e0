using HeadWise.Heads;
using HeadWise.KvCache;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Heads;

internal static class TensorAssert
{
    /// <summary>Same shape and bit-identical values.</summary>
    public static bool Same(this Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().ToBoolean();
}

/// <summary>Capturing is observation only (bit-identical outputs on every family) and captures only what was asked.</summary>
public class HookCaptureTests
{
    public static TheoryData<string> Families => new(TinyModels.Families);
    public static TheoryData<string> Decoders => new(TinyModels.Decoders);

    [Theory, MemberData(nameof(Families))]
    public void Capturing_every_hook_point_leaves_the_output_bit_identical(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(12, batch: 2);
        var plain = model.Forward(tokens);
        var (hooked, cache) = model.RunWithFullCache(tokens);
        using var _ = cache;
        Assert.True(plain.Same(hooked), $"{family}: output changed by observation");
        int perLayer = HookNames.ForLayer(0).All.Count();
        Assert.True(cache.Count >= model.Spec.Layers * perLayer + 1);
        Assert.Equal(new long[] { 2, 12, 4, 8 }, cache[HookNames.ForLayer(1).Q].shape);
        Assert.Equal(new long[] { 2, 12, model.Spec.KvHeads, 8 }, cache[HookNames.ForLayer(1).K].shape); // per KV head under GQA
        Assert.Equal(new long[] { 2, 4, 12, 12 }, cache[HookNames.ForLayer(1).Pattern].shape);
        Assert.Equal(new long[] { 2, 12, 4, 32 }, cache[HookNames.ForLayer(1).Result].shape);
    }

    [Theory, MemberData(nameof(Decoders))]
    public void Capturing_during_incremental_decoding_is_bit_identical_and_sees_the_cached_keys(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(10);
        using var plainCache = new FullKvCache(model.Spec);
        using var hookedCache = new FullKvCache(model.Spec);
        model.Forward(tokens.narrow(1, 0, 9), plainCache);
        model.Forward(tokens.narrow(1, 0, 9), hookedCache, new HookSet().Add(HookNames.ForLayer(0).Pattern, x => x));
        var plain = model.Forward(tokens.narrow(1, 9, 1), plainCache);
        var (hooked, cache) = model.RunWithCache(tokens.narrow(1, 9, 1), [CaptureSpec.Pattern(1, 2), HookNames.ForLayer(1).Result], kvCache: hookedCache);
        using var _ = cache;
        Assert.True(plain.Same(hooked));
        // The decode step's pattern row is the last row of the one-shot pattern.
        var (__, full) = model.RunWithCache(tokens, [CaptureSpec.Pattern(1, 2)]);
        using var ___ = full;
        Assert.Equal(new long[] { 1, 1, 1, 10 }, cache[HookNames.ForLayer(1).Pattern].shape);
        Assert.True(cache[HookNames.ForLayer(1).Pattern].allclose(full[HookNames.ForLayer(1).Pattern].narrow(2, 9, 1), 1e-5, 1e-6));
    }

    [Theory, MemberData(nameof(Families))]
    public void One_heads_pattern_is_built_alone_and_matches_softmax_of_its_queries_and_keys(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(9);
        var names = HookNames.ForLayer(1);
        var seen = new List<long[]>();
        var hooks = new HookSet().AddForHeads(names.Pattern, [3], p => { seen.Add(p.shape); return p; });
        var (_, cache) = model.RunWithCache(tokens, [names.RotQ, names.RotK], hooks);
        using var __ = cache;
        Assert.Equal(new long[] { 1, 1, 9, 9 }, Assert.Single(seen)); // the forward never built [B, H, T, S]

        // Independent: softmax(q k^T / sqrt(d) + causal mask) from the captured post-RoPE queries and keys.
        var q = cache[names.RotQ][0, .., 3];                               // [T, d]
        var k = cache[names.RotK][0, .., 3 / model.Spec.GroupSize];          // [S, d]
        var scores = q.matmul(k.T) / Math.Sqrt(model.Spec.HeadDim);
        if (model.Spec.Causal) scores = scores.masked_fill(torch.ones(9, 9, ScalarType.Bool).triu(1), float.NegativeInfinity);
        var (___, captured) = model.RunWithCache(tokens, [CaptureSpec.Pattern(1, 3)]);
        using var ____ = captured;
        Assert.True(captured[names.Pattern][0, 0].allclose(scores.softmax(-1), 1e-5, 1e-6));
    }

    [Fact]
    public void Head_and_position_slices_are_the_slices_of_the_whole_capture()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(8);
        var names = HookNames.ForLayer(0);
        var (_, whole) = model.RunWithCache(tokens, [names.Z, names.Pattern, names.V]);
        var (__, part) = model.RunWithCache(tokens, [new CaptureSpec(names.Z, [2, 0], 3, 4), new CaptureSpec(names.Pattern, [1], 5), new CaptureSpec(names.V, [1])]);
        using var a = whole; using var b = part;
        Assert.True(part[names.Z].Same(whole[names.Z].narrow(1, 3, 4).index_select(2, torch.tensor(new long[] { 2, 0 }))));
        Assert.True(part[names.Pattern].allclose(whole[names.Pattern].narrow(1, 1, 1).narrow(2, 5, 3), 1e-6, 1e-7));
        Assert.Equal(new long[] { 1, 8, 1, 8 }, part[names.V].shape);
        Assert.True(part.Bytes < whole.Bytes);
    }

    [Fact]
    public void Bad_hook_points_heads_and_ranges_are_named_in_the_error()
    {
        using var model = TinyModels.Build("llama");
        var tokens = TinyModels.Tokens(4);
        Assert.Contains("not a hook point", Assert.Throws<HeadWiseException>(() => model.RunWithCache(tokens, ["blocks.0.attn.hook_x"])).Message);
        Assert.Contains("layer 7 does not exist", Assert.Throws<HeadWiseException>(() => model.RunWithCache(tokens, ["blocks.7.hook_resid_pre"])).Message);
        Assert.Contains("0..1", Assert.Throws<HeadWiseException>(() => model.RunWithCache(tokens, [new CaptureSpec(HookNames.ForLayer(0).K, [3])])).Message);
        Assert.Contains("no head axis", Assert.Throws<HeadWiseException>(() => model.RunWithCache(tokens, [new CaptureSpec(HookNames.ForLayer(0).MlpOut, [0])])).Message);
        Assert.Contains("exceed", Assert.Throws<HeadWiseException>(() => model.RunWithCache(tokens, [new CaptureSpec(HookNames.ForLayer(0).MlpOut, null, 2, 5)])).Message);
        Assert.Contains("was not captured", Assert.Throws<HeadWiseException>(() => new ActivationCache()["hook_embed"]).Message);
    }
}
