using HeadWise.Heads;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Tests.Heads;

/// <summary>The hook-point table: names, axes and errors derive from it; the ln, mlp and attn_in points hold what TransformerLens's do.</summary>
public class HookTableTests
{
    [Fact]
    public void Every_name_parses_back_to_its_kind_and_shape_row()
    {
        var names = HookNames.All(3).ToList();
        Assert.Equal(HookPoints.All.Count(k => !k.InBlock) + 3 * HookPoints.InBlock.Count, names.Count);
        Assert.Equal(names.Count, names.Distinct().Count());
        foreach (var n in names)
        {
            var p = HookPoint.Parse(n, 3);
            Assert.Equal(n, p.Kind.NameIn(p.Layer ?? 0));
        }
        Assert.Equal(2, HookPoint.Parse("blocks.1.hook_attn_in").HeadAxis);
        Assert.True(HookPoint.Parse("blocks.2.attn.hook_rot_k").HoldsKvHeads);
        Assert.Null(HookPoint.Parse("blocks.0.mlp.hook_post").HeadAxis);
        Assert.Equal("blocks.4.ln2.hook_normalized", HookNames.ForLayer(4).Ln2Normalized);
    }

    [Theory]
    [InlineData("blocks.0.attn.hook_patern", "blocks.0.attn.hook_pattern")]
    [InlineData("blocks.2.hook_resid_psot", "blocks.2.hook_resid_post")]
    [InlineData("blocks.1.ln1.hook_norm", "blocks.1.ln1.hook_normalized")]
    [InlineData("attn.hook_z", "blocks.0.attn.hook_z")]
    [InlineData("hook_embd", "hook_embed")]
    [InlineData("ln_final.hook_normalised", "ln_final.hook_normalized")]
    public void An_unknown_name_lists_the_near_matches(string typo, string meant)
    {
        var e = Assert.Throws<HeadWiseException>(() => HookPoint.Parse(typo));
        Assert.Contains("not a hook point", e.Message);
        Assert.Contains("did you mean", e.Message);
        Assert.Contains(meant, e.Message);
    }

    // Expected lists from an independent implementation of the rule (a textbook Levenshtein table in Python, written
    // for issue 23): edit distance to the whole name or, inside blocks, of the part after blocks.{L}.; a prefix of 4 or
    // more characters counts 1; within max(2, tail length / 3); nearest first, then by name; at most 4.
    [Theory]
    [InlineData("zz", "")]
    [InlineData("blocks.3.attn.hook_x", "blocks.3.attn.hook_k, blocks.3.attn.hook_q, blocks.3.attn.hook_v, blocks.3.attn.hook_z")]
    [InlineData("blocks.0.hook_resid_p", "blocks.0.hook_resid_post, blocks.0.hook_resid_pre, blocks.0.hook_resid_mid")]
    [InlineData("hook_resid_p", "blocks.0.hook_resid_post, blocks.0.hook_resid_pre, blocks.0.hook_resid_mid")]
    [InlineData("blocks.0.hook_attn_wxyz", "blocks.0.hook_attn_in, blocks.0.hook_attn_out")]
    [InlineData("blocks.0.attn", "blocks.0.attn.hook_attn_scores, blocks.0.attn.hook_k, blocks.0.attn.hook_pattern, blocks.0.attn.hook_q")]
    [InlineData("attn.hook_patern", "blocks.0.attn.hook_pattern, blocks.0.attn.hook_rot_k, blocks.0.attn.hook_rot_q")]
    [InlineData("blocks.0.hook_embd", "")]
    [InlineData("blocks.1.ln1.hook_norm", "blocks.1.ln1.hook_normalized")]
    [InlineData("blocks.2.mlp.hook_po", "blocks.2.mlp.hook_post, blocks.2.mlp.hook_pre")]
    public void The_near_matches_are_the_nearest_names_in_order(string typo, string expected)
    {
        var e = Assert.Throws<HeadWiseException>(() => HookPoint.Parse(typo));
        Assert.StartsWith($"'{typo}' is not a hook point; ", e.Message);
        Assert.EndsWith(expected.Length > 0 ? $"did you mean {expected}?" : "hook points are " + string.Join(", ", HookPoints.All.Select(k => k.Pattern)), e.Message);
        Assert.Contains("hook_embed, hook_pos_embed, blocks.{L}.hook_resid_pre", Assert.Throws<HeadWiseException>(() => HookPoint.Parse("zz")).Message);
    }

    [Fact]
    // TransformerLens's names for embeddings and the final norm (scripts and saved activations use them); unembed.hook_out is ours.
    public void The_points_outside_blocks_keep_their_published_names()
    {
        Assert.Equal(["hook_embed", "hook_pos_embed", "ln_final.hook_scale", "ln_final.hook_normalized", "unembed.hook_out"],
            HookPoints.All.Where(k => !k.InBlock).Select(k => k.Suffix));
        Assert.Equal(["hook_embed", "hook_pos_embed", "ln_final.hook_scale", "ln_final.hook_normalized", "unembed.hook_out"],
            [HookNames.Embed, HookNames.PosEmbed, HookNames.FinalScale, HookNames.FinalNormalized, HookNames.UnembedOut]);
    }

    [Fact]
    public void A_name_far_from_every_point_lists_the_forms()
    {
        var e = Assert.Throws<HeadWiseException>(() => HookPoint.Parse("completely.different.thing"));
        Assert.Contains("blocks.{L}.attn.hook_pattern", e.Message);
        Assert.DoesNotContain("did you mean", e.Message);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Ln_and_mlp_points_hold_what_the_weights_say(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var n = HookNames.ForLayer(1);
        var w = model.Weights.Layers[1];
        var (_, c) = model.RunWithCache(TinyModels.Tokens(7), name => name.StartsWith("blocks.1."));
        using var cache = c;
        // Independent: the norm written out from the captured residual.
        var x = cache[n.ResidPre];
        var centred = family == "gpt2" ? x - x.mean([-1], keepdim: true) : x;
        var scale = (centred.pow(2).mean([-1], keepdim: true) + model.Spec.NormEps).sqrt();
        Assert.True(cache[n.Ln1Scale].allclose(scale, 1e-5, 1e-6));
        Assert.True(cache[n.Ln1Normalized].allclose(centred / scale, 1e-5, 1e-6));
        // The queries are the normalised input times the gain (plus bias), through W_q.
        var ln1 = cache[n.Ln1Normalized] * w.AttnNorm + (w.AttnNormBias ?? torch.zeros(1));
        var q = F.linear(ln1, w.Wq, w.Bq).view(cache[n.Q].shape);
        Assert.True(cache[n.Q].allclose(q, 1e-4, 1e-5));
        // The feed-forward output is W_down of hook_post, and hook_post is act(hook_pre) (times the up projection when gated).
        Assert.True(cache[n.MlpOut].allclose(F.linear(cache[n.MlpPost], w.WDown, w.BDown), 1e-4, 1e-5));
        var ln2 = cache[n.Ln2Normalized] * w.FfnNorm + (w.FfnNormBias ?? torch.zeros(1));
        var post = family == "gpt2" ? F.gelu(cache[n.MlpPre], TorchSharp.Modules.GELU.Approximate.tanh)
            : F.silu(cache[n.MlpPre]) * F.linear(ln2, w.WUp);
        Assert.True(cache[n.MlpPost].allclose(post, 1e-4, 1e-5));
    }

    [Fact]
    public void Editing_ln_scale_is_editing_normalized_by_its_inverse()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(6);
        var n = HookNames.ForLayer(0);
        var plain = model.Forward(tokens);
        var viaScale = model.RunWithHooks(tokens, new HookSet().Add(n.Ln2Scale, s => s * 2));
        var viaNormalized = model.RunWithHooks(tokens, new HookSet().Add(n.Ln2Normalized, v => v / 2));
        Assert.True(viaScale.allclose(viaNormalized, 1e-5, 1e-6));
        Assert.False(viaScale.allclose(plain, 1e-3, 1e-3));
    }

    [Theory]
    [InlineData("llama")] // grouped-query attention: 4 query heads, 2 KV heads
    [InlineData("gpt2")]
    public void Attn_in_copies_are_per_head(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(6);
        var n = HookNames.ForLayer(0);
        var (plain, c0) = model.RunWithCache(tokens, [n.Z]);
        // Copies returned as new but equal tensors take the per-head path: same numbers as the shared input, to rounding.
        var (same, c1) = model.RunWithCache(tokens, [n.Z], new HookSet().Add(n.AttnIn, x => x.clone().mul_(1.0000001)));
        Assert.True(same.allclose(plain, 1e-4, 1e-4));
        // Noise in head 1's copy (not the first of its group) changes head 1's output alone.
        var (_, c2) = model.RunWithCache(tokens, [n.Z], new HookSet().Add(n.AttnIn, x =>
        {
            var r = x.clone();
            r.select(2, 1).add_(torch.randn_like(r.select(2, 1)));
            return r;
        }));
        using var a = c0; using var b = c1; using var d = c2;
        var diff = (c2[n.Z] - c0[n.Z]).abs().amax([0, 1, 3]); // per head
        Assert.True(diff[1].ToSingle() > 1e-2, $"head 1 changed by {diff[1].ToSingle()}");
        foreach (int h in new[] { 0, 2, 3 }) Assert.True(diff[h].ToSingle() < 1e-5, $"head {h} changed by {diff[h].ToSingle()}");
    }

    [Fact]
    public void A_names_filter_captures_exactly_the_names_it_accepts()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var (_, c) = model.RunWithCache(TinyModels.Tokens(5), name => name.EndsWith("attn.hook_pattern"));
        using var cache = c;
        Assert.Equal(Enumerable.Range(0, model.Spec.Layers).Select(l => HookNames.ForLayer(l).Pattern), cache.Names.Order());
    }
}
