using HeadWise.Heads;
using HeadWise.Heads.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Heads;

/// <summary>Attribution exactness: components sum to the logit; the logit lens ends at the logits; patching recovers what it should.</summary>
public class AttributionTests
{
    public static TheoryData<string> Decoders => new(TinyModels.Decoders);

    [Theory, MemberData(nameof(Decoders))]
    public void Direct_attribution_components_sum_to_the_logit(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(9);
        var logits = model.Forward(tokens);
        foreach (var (target, contrast, pos) in new[] { (7, (int?)null, -1L), (20, (int?)3, 4L) })
        {
            var dla = DirectLogitAttribution.Compute(model, tokens, target, contrast, pos);
            double expected = logits[0, pos < 0 ? 8 : pos, target].ToSingle() - (contrast is { } c ? logits[0, pos < 0 ? 8 : pos, c].ToSingle() : 0);
            Assert.Equal(expected, dla.Sum, 1e-4);
            Assert.Equal(model.Spec.Layers * model.Spec.Heads, dla.Components.Count(x => x.Head is not null));
            Assert.Contains(dla.Components, x => x.Name == "L1.mlp");
        }
    }

    [Fact]
    public void A_heads_attribution_is_its_result_through_the_frozen_norm()
    {
        // Independent path for one head: hook_result · (w / rms(final residual)) · W_U[target] on a RMSNorm model.
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(6);
        var (_, cache) = model.RunWithCache(tokens, [HookNames.ForLayer(0).Result, HookNames.ForLayer(1).ResidPost]);
        using var __ = cache;
        var x = cache[HookNames.ForLayer(1).ResidPost][0, 5].to(ScalarType.Float64);
        var scale = 1 / Math.Sqrt(x.pow(2).mean().ToDouble() + model.Spec.NormEps);
        var r = cache[HookNames.ForLayer(0).Result][0, 5, 2].to(ScalarType.Float64);
        double expected = (r * scale * model.Weights.OutputNorm!.to(ScalarType.Float64)).dot(model.Weights.Output![11].to(ScalarType.Float64)).ToDouble();
        var dla = DirectLogitAttribution.Compute(model, tokens, 11);
        Assert.Equal(expected, dla.Heads[0, 2], 1e-9);
    }

    [Theory, MemberData(nameof(Decoders))]
    public void Logit_lens_after_the_last_layer_is_the_models_prediction(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(7);
        var logits = model.Forward(tokens)[0, 6];
        var rows = LogitLens.Compute(model, tokens, target: 9);
        Assert.Equal(model.Spec.Layers + 1, rows.Count);
        Assert.Equal("embed", rows[0].Stage);
        Assert.Equal((int)logits.argmax().ToInt64(), rows[^1].TopToken);
        Assert.Equal(logits[9].ToSingle(), rows[^1].TargetLogit!.Value, 1e-4);
        Assert.Equal((int)logits.gt(logits[9]).sum().ToInt64(), rows[^1].TargetRank);
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen3")]
    public void Logit_lens_at_every_stage_is_the_final_rms_norm_and_unembedding_of_that_residual(string family)
    {
        // Every stage by hand in float64: x / sqrt(mean(x^2) + eps) * final norm weight, dotted with each unembedding row.
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(7);
        var hooks = new List<string> { HookNames.ForLayer(0).ResidPre };
        for (int l = 0; l < model.Spec.Layers; l++) hooks.Add(HookNames.ForLayer(l).ResidPost);
        var (_, cache) = model.RunWithCache(tokens, hooks.Select(h => new CaptureSpec(h)));
        using var __ = cache;
        var rows = LogitLens.Compute(model, tokens, target: 9, position: 4);
        Assert.Equal(hooks.Count, rows.Count);
        var unembed = model.Weights.Output!.to(ScalarType.Float64);
        var norm = model.Weights.OutputNorm!.to(ScalarType.Float64);
        for (int s = 0; s < hooks.Count; s++)
        {
            var x = cache[hooks[s]][0, 4].to(ScalarType.Float64);
            var logits = unembed.matmul(x / Math.Sqrt(x.pow(2).mean().ToDouble() + model.Spec.NormEps) * norm);
            Assert.Equal(s == 0 ? "embed" : $"L{s - 1}", rows[s].Stage);
            Assert.Equal((int)logits.argmax().ToInt64(), rows[s].TopToken);
            Assert.Equal(logits.softmax(-1).max().ToDouble(), rows[s].TopProbability, 1e-5);
            Assert.Equal(logits[9].ToDouble(), rows[s].TargetLogit!.Value, 1e-4);
            Assert.Equal((int)logits.gt(logits[9]).sum().ToInt64(), rows[s].TargetRank);
        }
        Assert.NotEqual(rows[0].TargetLogit, rows[1].TargetLogit); // the stages are not one row repeated
    }

    [Theory, MemberData(nameof(Decoders))]
    public void Patching_sweeps_from_the_clean_run_into_itself_recover_everything(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(5);
        foreach (var r in new[] { PatchingSweep.Heads(model, tokens, tokens, 3, 4), PatchingSweep.Positions(model, tokens, tokens, 3, 4) })
        {
            Assert.Equal(r.Clean, r.Corrupted);
            foreach (var v in r.Recovery) Assert.Equal(1.0, v);
        }
    }

    [Fact]
    public void Position_sweep_recovers_fully_exactly_where_the_prompts_differ_at_the_first_layer()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var clean = TinyModels.Tokens(6);
        var corrupted = clean.clone();
        corrupted[0, 2] = (clean[0, 2].ToInt64() % 60) + 2;
        var r = PatchingSweep.Positions(model, clean, corrupted, 3, 4);
        Assert.NotEqual(r.Clean, r.Corrupted);
        Assert.Equal(1.0, r.Recovery[0, 2], 1e-6); // the whole input is then the clean one
        Assert.Equal(0.0, r.Recovery[0, 0], 1e-9); // positions that were already equal change nothing
        Assert.Equal(0.0, r.Recovery[0, 5], 1e-9);
        Assert.Equal(0.0, r.Recovery[1, 1], 1e-9); // earlier positions never see the difference
    }

    [Fact]
    public void Attribution_of_bad_inputs_names_the_problem()
    {
        using var bert = TinyModels.Build("bert");
        using var llama = TinyModels.Build("llama");
        var tokens = TinyModels.Tokens(4);
        Assert.Contains("encoder", Assert.Throws<HeadWiseException>(() => DirectLogitAttribution.Compute(bert, tokens, 1)).Message);
        Assert.Contains("out of range", Assert.Throws<HeadWiseException>(() => DirectLogitAttribution.Compute(llama, tokens, 64)).Message);
        Assert.Contains("outside", Assert.Throws<HeadWiseException>(() => DirectLogitAttribution.Compute(llama, tokens, 1, position: 4)).Message);
        Assert.Contains("same length", Assert.Throws<HeadWiseException>(() => PatchingSweep.Heads(llama, tokens, TinyModels.Tokens(5), 1, 2)).Message);
    }
}
