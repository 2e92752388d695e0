using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Heads;

/// <summary>Interventions against cases whose answer is known without the intervention code.</summary>
public class InterventionTests
{
    public static TheoryData<string> Families => new(TinyModels.Families);

    [Theory, MemberData(nameof(Families))]
    public void Zero_ablating_every_head_of_a_layer_equals_removing_its_attention_output(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(10);
        var ablated = new HookSet();
        for (int h = 0; h < model.Spec.Heads; h++) ablated.Add(HeadAblation.Zero(1, h));
        // What is left of the attention output is its bias (shared by all heads), or nothing.
        var bias = model.Weights.Layers[1].Bo;
        var removed = new HookSet().Add(HookNames.ForLayer(1).AttnOut, a => bias is null ? torch.zeros_like(a) : bias.expand_as(a).clone());
        var a = model.RunWithHooks(tokens, ablated);
        var b = model.RunWithHooks(tokens, removed);
        Assert.True(a.allclose(b, 1e-5, 1e-6));
        Assert.False(a.allclose(model.Forward(tokens), 1e-3, 1e-3)); // the ablation did something
    }

    [Fact]
    public void A_query_mask_makes_the_head_output_the_running_mean_of_its_values_and_leaves_the_other_heads()
    {
        // Zero query, zero scores, uniform causal weights: head h's output at t is the mean of its KV head's values 0..t.
        using var model = TinyModels.Build("llama"); // RoPE and 2 query heads per KV head
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(9);
        var names = HookNames.ForLayer(1);
        var (_, clean) = model.RunWithFullCache(tokens);
        using var _c = clean;
        const int head = 3;
        var masked = new HookSet().Add(new QueryMask(1, head));
        Tensor? z = null;
        masked.Add(names.Z, x => (z = x.clone().DetachFromDisposeScope()));
        model.RunWithHooks(tokens, masked);
        var v = clean[names.V].select(2, head / model.Spec.GroupSize).to(ScalarType.Float32); // [B, T, d]
        var runningMean = v.cumsum(1) / torch.arange(1, 10, dtype: ScalarType.Float32).view(1, 9, 1);
        Assert.True(z!.select(2, head).allclose(runningMean, 1e-4, 1e-5), "masked head: not the running mean of its values");
        for (int h = 0; h < model.Spec.Heads; h++)
            if (h != head) Assert.True(z.select(2, h).allclose(clean[names.Z].select(2, h), 1e-5, 1e-6), $"head {h} changed");
        Assert.False(clean[names.Z].select(2, head).allclose(runningMean, 1e-3, 1e-3)); // the mask did something
    }

    [Theory, MemberData(nameof(Families))]
    public void Each_hook_points_stated_shape_is_the_shape_a_run_captures_there(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(6);
        var (_, cache) = model.RunWithFullCache(tokens);
        using var _c = cache;
        var s = model.Spec;
        var size = new Dictionary<string, long>
        {
            ["B"] = 1, ["T"] = 6, ["S"] = 6, ["H"] = s.Heads, ["K"] = s.KvHeads, ["d"] = s.HeadDim, ["D"] = s.Dim,
            ["F"] = s.FfnDim, ["V"] = s.VocabSize, ["1"] = 1,
        };
        Assert.NotEmpty(cache.Names);
        foreach (var name in cache.Names)
        {
            var kind = HookPoint.Parse(name).Kind;
            Assert.False(string.IsNullOrWhiteSpace(kind.Description), $"{name} has no description");
            var axes = kind.Shape.Trim('[', ']').Split(',');
            long[] expected = axes.Select(a => size[a]).ToArray();
            Assert.True(expected.SequenceEqual(cache[name].shape), $"{name}: stated {kind.Shape}, captured [{string.Join(",", cache[name].shape)}]");
        }
    }

    [Theory, MemberData(nameof(Families))]
    public void A_steering_vector_adds_its_scaled_vector_at_every_position(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(8);
        var name = HookNames.ForLayer(1).ResidPre;
        var v = torch.linspace(-1, 1, model.Spec.Dim);
        // The same addition written out by hand, without the intervention's code.
        var byHand = model.RunWithHooks(tokens, new HookSet().Add(name, x => x + v * 2.5));
        using var steer = new SteeringVector(name, v, 2.5);
        var steered = model.RunWithHooks(tokens, new HookSet().Add(steer));
        Assert.True(steered.allclose(byHand, 1e-5, 1e-5), $"max difference {(steered - byHand).abs().max().item<float>()}, scale {byHand.abs().max().item<float>()}");
        Assert.False(steered.allclose(model.Forward(tokens), 1e-3, 1e-3)); // the vector moved the output

        using var wrong = new SteeringVector(name, torch.ones(model.Spec.Dim + 1));
        var e = Assert.Throws<HeadWise.HeadWiseException>(() => model.RunWithHooks(tokens, new HookSet().Add(wrong)));
        Assert.Equal($"steering '{name}': the vector has {model.Spec.Dim + 1} values but the activation's last axis has {model.Spec.Dim}", e.Message);
    }

    [Theory, MemberData(nameof(Families))]
    public void Patching_every_hook_point_from_the_same_run_changes_nothing(string family)
    {
        using var model = TinyModels.Build(family);
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(10);
        var (clean, cache) = model.RunWithFullCache(tokens);
        using var _ = cache;
        var maps = new HookSet();
        var rest = new HookSet();
        foreach (var name in cache.Names)
            (HookPoint.Parse(name).IsAttentionMap ? maps : rest).Add(ActivationPatch.From(cache, name));
        // Replacing with equal values takes the same arithmetic: bit-identical, attention maps included.
        Assert.True(model.RunWithHooks(tokens, rest).Same(clean));
        Assert.True(model.RunWithHooks(tokens, maps).Same(clean));
    }

    [Fact]
    public void Attending_only_to_the_first_token_makes_the_heads_output_that_tokens_value()
    {
        using var model = TinyModels.Build("llama"); // GQA: head 3 reads KV head 1
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(7);
        var names = HookNames.ForLayer(0);
        var hooks = new HookSet().Add(AttentionToPositions.Set(0, 3, [0], 1.0));
        var (_, cache) = model.RunWithCache(tokens, [names.Z, names.V, CaptureSpec.Pattern(0, 3)], hooks);
        using var __ = cache;
        var v0 = cache[names.V][0, 0, 1];                 // [d]
        var z3 = cache[names.Z][0, .., 3];                // [T, d]
        Assert.True(z3.allclose(v0.expand_as(z3), 1e-5, 1e-6));
        var pattern = cache[names.Pattern][0, 0];
        Assert.True(pattern[.., 0].allclose(torch.ones(7), 1e-6, 1e-7));
        // Another head of the same layer is untouched.
        var (___, plain) = model.RunWithCache(tokens, [names.Z]);
        using var ____ = plain;
        Assert.True(cache[names.Z][0, .., 2].Same(plain[names.Z][0, .., 2]));
    }

    [Fact]
    public void Scaling_attention_to_a_position_scales_its_weight_then_renormalises()
    {
        using var model = TinyModels.Build("gpt2");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(6);
        var name = HookNames.ForLayer(1).Pattern;
        var (_, before) = model.RunWithCache(tokens, [CaptureSpec.Pattern(1, 2)]);
        var (__, after) = model.RunWithCache(tokens, [CaptureSpec.Pattern(1, 2)], new HookSet().Add(AttentionToPositions.Scale(1, 2, [0], 3.0)));
        using var a = before; using var b = after;
        var p = before[name][0, 0].to(ScalarType.Float64);
        var expected = p.clone();
        expected[.., 0] = p[.., 0] * 3;
        expected = expected / expected.sum(-1, keepdim: true);
        Assert.True(after[name][0, 0].to(ScalarType.Float64).allclose(expected, 1e-5, 1e-6));
        Assert.True(after[name][0, 0].sum(-1).allclose(torch.ones(6), 1e-5, 1e-6));
    }

    [Fact]
    public void Head_output_scale_value_scale_and_mean_ablation_act_linearly_on_z()
    {
        using var model = TinyModels.Build("qwen3"); // GQA group of 2: KV head 0 serves query heads 0 and 1
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(8);
        var z = HookNames.ForLayer(1).Z;
        var (_, plain) = model.RunWithCache(tokens, [z]);
        var (__, scaled) = model.RunWithCache(tokens, [z], new HookSet().Add(new HeadOutputScale(1, 1, 0.5)));
        var (___, values) = model.RunWithCache(tokens, [z], new HookSet().Add(new ValueScale(1, 0, 2.0)));
        var (____, mean) = model.RunWithCache(tokens, [z], new HookSet().Add(HeadAblation.Mean(1, 3, plain)));
        using var a = plain; using var b = scaled; using var c = values; using var d = mean;
        Assert.True(scaled[z][.., .., 1].allclose(plain[z][.., .., 1] * 0.5, 1e-6, 1e-7));
        Assert.True(scaled[z][.., .., 0].Same(plain[z][.., .., 0]));
        Assert.True(values[z][.., .., 0..2].allclose(plain[z][.., .., 0..2] * 2, 1e-5, 1e-6));
        Assert.True(values[z][.., .., 2..4].allclose(plain[z][.., .., 2..4], 1e-6, 1e-7));
        var m = plain[z][0, .., 3].mean([0]);
        Assert.True(mean[z][0, .., 3].allclose(m.expand(8, -1), 1e-6, 1e-7));
    }

    [Fact]
    public void Patch_with_a_different_shape_or_bad_arguments_is_refused()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var (_, cache) = model.RunWithCache(TinyModels.Tokens(5), [HookNames.ForLayer(0).ResidPre]);
        using var __ = cache;
        var hooks = new HookSet().Add(ActivationPatch.From(cache, HookNames.ForLayer(0).ResidPre));
        Assert.Contains("differs", Assert.Throws<HeadWiseException>(() => model.RunWithHooks(TinyModels.Tokens(6), hooks)).Message);
        Assert.Throws<HeadWiseException>(() => AttentionToPositions.Set(0, 0, [0], 1.5));
        Assert.Throws<HeadWiseException>(() => new HookSet().AddForHeads(HookNames.ForLayer(0).Z, [0], x => x));
    }
}
