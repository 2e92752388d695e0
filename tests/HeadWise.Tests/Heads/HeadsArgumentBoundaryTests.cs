using HeadWise.Heads;
using HeadWise.Heads.Attribution;
using HeadWise.Heads.Interventions;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Heads;

/// <summary>
/// The Heads namespace's argument checks at their exact edges: the last valid value passes, the first invalid one is a
/// <see cref="HeadWiseException"/> whose message names the value (issue 23: these are what Stryker's boundary and
/// message mutants change). Tiny llama: V = 64, H = 4, K = 2, 2 layers.
/// </summary>
public class HeadsArgumentBoundaryTests
{
    private static string Error(Action a) => Assert.Throws<HeadWiseException>(a).Message;

    [Fact]
    public void Token_ids_run_from_zero_to_the_last_vocabulary_entry()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var output = model.Weights.Output.to(ScalarType.Float64);
        Assert.True(LogitDirection.Of(model, 0, null).Same(output[0]));
        Assert.True(LogitDirection.Of(model, 63, 0).Same(output[63] - output[0]));
        Assert.Contains("token id 64 is out of range (vocabulary 64)", Error(() => LogitDirection.Of(model, 64, null)));
        Assert.Contains("token id -1 is out of range", Error(() => LogitDirection.Of(model, 1, -1)));

        var tokens = TinyModels.Tokens(4);
        Assert.Equal(3, LogitLens.Compute(model, tokens, target: 0).Count);
        Assert.Equal(3, LogitLens.Compute(model, tokens, target: 63).Count);
        Assert.Contains("token id 64 is out of range (vocabulary 64)", Error(() => LogitLens.Compute(model, tokens, target: 64)));
        Assert.Contains("token id -1 is out of range", Error(() => LogitLens.Compute(model, tokens, target: -1)));
        // A sweep checks its ids before running anything.
        Assert.Contains("token id 64", Error(() => PatchingSweep.Heads(model, tokens, tokens, 64, 1)));
        Assert.Contains("token id -1", Error(() => PatchingSweep.Positions(model, tokens, tokens, 1, -1)));
    }

    [Fact]
    public void An_encoder_has_no_logits_to_attribute_or_lens()
    {
        using var bert = TinyModels.Build("bert");
        using var scope = torch.NewDisposeScope();
        Assert.Contains("bert is an encoder", Error(() => LogitDirection.Of(bert, 1, null)));
        Assert.Contains("bert is an encoder: it has no unembedding for a logit lens", Error(() => LogitLens.Compute(bert, TinyModels.Tokens(4))));
    }

    [Theory]
    [InlineData(0, 5, 0)]
    [InlineData(4, 5, 4)]
    [InlineData(-1, 5, 4)]
    [InlineData(-5, 5, 0)]
    public void A_position_counts_from_the_start_or_from_the_end(long position, long length, long expected) =>
        Assert.Equal(expected, LogitDirection.ResolvePosition(position, length));

    [Theory]
    [InlineData(5)]
    [InlineData(-6)]
    public void A_position_outside_the_prompt_is_refused(long position) =>
        Assert.Contains($"position {position} is outside the prompt's 5 tokens", Error(() => LogitDirection.ResolvePosition(position, 5)));

    [Fact]
    public void The_metric_is_the_targets_logit_minus_the_contrasts_at_that_position()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.tensor(new float[] { 9, 9, 9, 1, 5, 2 }).view(1, 2, 3); // position 1: [1, 5, 2]
        Assert.Equal(3.0, LogitDirection.Metric(logits, 1, 2, 1));
        Assert.Equal(5.0, LogitDirection.Metric(logits, 1, null, 1));
        Assert.Equal(-1.0, LogitDirection.Metric(logits, 0, 2, 1));
    }

    [Fact]
    public void Recovery_is_the_fraction_of_the_gap_closed_and_undefined_when_there_is_no_gap_to_close()
    {
        Assert.Equal(0.25, PatchingSweep.Recovery(1.5, 3, 1));
        Assert.Equal(1.0, PatchingSweep.Recovery(2, 2, 2));
        Assert.True(double.IsNaN(PatchingSweep.Recovery(3, 2, 2)));
    }

    [Fact]
    public void A_sweep_names_its_axis_and_a_shape_mismatch_prints_both_shapes()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(3);
        Assert.Equal("head", PatchingSweep.Heads(model, tokens, tokens, 1, 2).Axis);
        Assert.Equal("position", PatchingSweep.Positions(model, tokens, tokens, 1, 2).Axis);
        Assert.Contains("clean [1, 3] and corrupted [1, 4]", Error(() => PatchingSweep.Heads(model, tokens, TinyModels.Tokens(4), 1, 2)));
    }

    [Fact]
    public void Hook_names_outside_blocks_or_below_layer_zero_are_refused()
    {
        Assert.Contains("'hook_embed' is not a hook point inside blocks", Error(() => _ = HookNames.ForLayer(0)[HookPoints.Embed]));
        Assert.Contains("layer -1 is negative", Error(() => HookNames.ForLayer(-1)));
        Assert.Equal("blocks.37.attn.hook_z", HookNames.ForLayer(37).Z);
        Assert.Contains("no hook point name given", Error(() => HookPoint.Parse(null!)));
    }

    [Fact]
    public void A_models_hook_points_leave_out_what_its_family_lacks()
    {
        using var llama = TinyModels.Build("llama");
        using var gpt2 = TinyModels.Build("gpt2");
        using var bert = TinyModels.Build("bert");
        int all = HookNames.All(2).Count();
        string[] unembedding = [HookNames.FinalScale, HookNames.FinalNormalized, HookNames.UnembedOut];
        var rope = llama.HookPointNames().ToList();
        Assert.Equal(all - 1, rope.Count); // no learned positions
        Assert.DoesNotContain(HookNames.PosEmbed, rope);
        Assert.Equal(all, gpt2.HookPointNames().Count());
        var encoder = bert.HookPointNames().ToList();
        Assert.Equal(all - 3, encoder.Count); // learned positions, no final norm or unembedding
        foreach (var n in unembedding) { Assert.Contains(n, rope); Assert.DoesNotContain(n, encoder); }
    }

    [Fact]
    public void Captured_heads_run_from_zero_to_the_points_own_head_count()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(5);
        var n = HookNames.ForLayer(0);
        var (_, ok) = model.RunWithCache(tokens, [new CaptureSpec(n.Z, [3]), new CaptureSpec(n.K, [1])]);
        using (ok)
        {
            Assert.Equal(new long[] { 1, 5, 1, 8 }, ok[n.Z].shape);
            Assert.Equal(new long[] { 1, 5, 1, 8 }, ok[n.K].shape);
        }
        Assert.Contains($"'{n.Z}': heads [0, 4] must be non-empty and in 0..3", Error(() => model.RunWithCache(tokens, [new CaptureSpec(n.Z, [0, 4])])));
        Assert.Contains("in 0..1", Error(() => model.RunWithCache(tokens, [new CaptureSpec(n.K, [2])])));
        Assert.Contains("must be non-empty", Error(() => model.RunWithCache(tokens, [new CaptureSpec(n.Z, [])])));
        Assert.Contains("heads [-1]", Error(() => model.RunWithCache(tokens, [new CaptureSpec(n.Z, [-1])])));
    }

    [Fact]
    public void Captured_positions_are_a_range_inside_the_call()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(5);
        var resid = HookNames.ForLayer(1).ResidPre;
        var (_, c) = model.RunWithCache(tokens, [resid, new CaptureSpec(HookNames.ForLayer(1).ResidPost, null, 0, 2), new CaptureSpec(HookNames.ForLayer(0).ResidPost, null, 2)]);
        using (c)
        {
            Assert.Equal(new long[] { 1, 2, 32 }, c[HookNames.ForLayer(1).ResidPost].shape);
            // The residual entering block 1 is the one leaving block 0: positions 2..4 of it.
            Assert.True(c[HookNames.ForLayer(0).ResidPost].Same(c[resid][.., 2..]));
        }
        Assert.Contains("position range start -1, count  is invalid", Error(() => model.RunWithCache(tokens, [new CaptureSpec(resid, null, -1)])));
        Assert.Contains("position range start 0, count 0 is invalid", Error(() => model.RunWithCache(tokens, [new CaptureSpec(resid, null, 0, 0)])));
        Assert.Contains("positions 3..7 exceed this call's 5 positions", Error(() => model.RunWithCache(tokens, [new CaptureSpec(resid, null, 3, 5)])));
    }

    [Fact]
    public void A_head_hook_on_attention_maps_takes_a_non_empty_list_of_non_negative_heads()
    {
        var pattern = HookNames.ForLayer(0).Pattern;
        Assert.Contains("only hook_attn_scores and hook_pattern", Error(() => new HookSet().AddForHeads(HookNames.ForLayer(0).Z, [0], x => x)));
        Assert.Contains("head list must be non-empty and non-negative", Error(() => new HookSet().AddForHeads(pattern, [], x => x)));
        Assert.Contains("non-negative", Error(() => new HookSet().AddForHeads(pattern, [1, -1], x => x)));
        var set = new HookSet().AddForHeads(pattern, [0], x => x).AddForHeads(pattern, [3, 1], x => x);
        Assert.Equal([0, 1, 3], set.PatternHeads(0)!.Order()); // the union, each head once
        set.Add(pattern, x => x);
        Assert.Null(set.PatternHeads(0)); // a hook on every head needs every head
    }

    [Fact]
    public void A_head_hook_beside_a_whole_map_hook_sees_its_own_head()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(5);
        var pattern = HookNames.ForLayer(1).Pattern;
        Tensor? whole = null, head2 = null;
        var hooks = new HookSet()
            .Add(pattern, x => { whole = x.detach().clone().DetachFromDisposeScope(); return x; })
            .AddForHeads(pattern, [2], x => { head2 = x.detach().clone().DetachFromDisposeScope(); return x; });
        model.RunWithHooks(tokens, hooks);
        Assert.Equal(new long[] { 1, 1, 5, 5 }, head2!.shape);
        Assert.True(head2.Same(whole![.., 2..3]));
    }

    [Fact]
    public void Patches_check_their_head_axis_indices_and_shapes()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(5);
        var n = HookNames.ForLayer(0);
        var (_, cache) = model.RunWithCache(tokens, [n.ResidPre, n.Z]);
        using var __ = cache;
        Assert.Contains($"'{n.ResidPre}' has no head axis to patch by head", Error(() => new HookSet().Add(new ActivationPatch(n.ResidPre, cache[n.ResidPre], heads: [0]))));
        Assert.Contains("source shape [1, 5, 32] differs from this run's [1, 6, 32]",
            Error(() => model.RunWithHooks(TinyModels.Tokens(6), new HookSet().Add(ActivationPatch.From(cache, n.ResidPre)))));
        model.RunWithHooks(tokens, new HookSet().Add(ActivationPatch.From(cache, n.Z, heads: [3], positions: [4])));
        Assert.Contains("index 4 is out of range for an axis of size 4", Error(() => model.RunWithHooks(tokens, new HookSet().Add(ActivationPatch.From(cache, n.Z, heads: [4])))));
        Assert.Contains("index 5 is out of range for an axis of size 5", Error(() => model.RunWithHooks(tokens, new HookSet().Add(ActivationPatch.From(cache, n.Z, positions: [5])))));
        Assert.Contains("index -1 is out of range", Error(() => model.RunWithHooks(tokens, new HookSet().Add(ActivationPatch.From(cache, n.Z, positions: [-1])))));
    }

    [Fact]
    public void Attention_edits_take_non_negative_positions_a_weight_in_0_1_and_a_non_negative_scale()
    {
        Assert.Contains("non-empty list of non-negative positions", Error(() => AttentionToPositions.Set(0, 0, [], 0.5)));
        Assert.Contains("non-negative positions", Error(() => AttentionToPositions.Set(0, 0, [1, -1], 0.5)));
        AttentionToPositions.Set(0, 0, [2], 0.0);
        AttentionToPositions.Set(0, 0, [2], 1.0);
        AttentionToPositions.Scale(0, 0, [0], 0.0);
        Assert.Contains("attention weight 1.5 must be in [0, 1]", Error(() => AttentionToPositions.Set(0, 0, [0], 1.5)));
        Assert.Contains("attention weight -0.5 must be in [0, 1]", Error(() => AttentionToPositions.Set(0, 0, [0], -0.5)));
        Assert.Contains("attention scale -1 must be non-negative", Error(() => AttentionToPositions.Scale(0, 0, [0], -1)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Setting_attention_to_a_position_gives_it_that_weight_and_rescales_the_rest_of_each_row(bool causal)
    {
        using var model = TinyModels.Build("qwen2");
        using var scope = torch.NewDisposeScope();
        var tokens = TinyModels.Tokens(6);
        var name = HookNames.ForLayer(1).Pattern;
        var (_, before) = model.RunWithCache(tokens, [CaptureSpec.Pattern(1, 2)]);
        // Positions 6 (= the number of keys) and 40 are past the prompt: ignored.
        var (__, after) = model.RunWithCache(tokens, [CaptureSpec.Pattern(1, 2)], new HookSet().Add(AttentionToPositions.Set(1, 2, [3, 6, 40], 0.25, causal)));
        using var a = before; using var b = after;
        var p = before[name][0, 0].to(ScalarType.Float64).data<double>().ToArray();
        var q = after[name][0, 0].to(ScalarType.Float64).data<double>().ToArray();
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
            {
                // Causal: rows before position 3 cannot see it and stay as they were (p[i,3] = 0 there, so the
                // non-causal rule gives those rows 0.25 at position 3 and 0.75 of their old weights).
                bool edited = !causal || i >= 3;
                double expected = !edited ? p[i * 6 + j] : j == 3 ? 0.25 : p[i * 6 + j] * 0.75 / (1 - p[i * 6 + 3]);
                Assert.True(Math.Abs(q[i * 6 + j] - expected) < 1e-5, $"causal={causal} row {i} col {j}: {q[i * 6 + j]} vs {expected}");
            }
    }

    [Fact]
    public void A_steering_vector_must_match_the_activations_width()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var name = HookNames.ForLayer(0).ResidPre;
        using var steer = new SteeringVector(name, torch.ones(5));
        Assert.Contains($"steering '{name}': the vector has 5 values but the activation's last axis has 32",
            Error(() => model.RunWithHooks(TinyModels.Tokens(4), new HookSet().Add(steer))));
    }

    [Fact]
    public void Mean_ablation_takes_a_head_of_the_captured_z()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var (_, cache) = model.RunWithCache(TinyModels.Tokens(4), [HookNames.ForLayer(0).Z]);
        using var __ = cache;
        HeadAblation.Mean(0, 0, cache);
        HeadAblation.Mean(0, 3, cache);
        Assert.Contains("head 4 is out of range: the captured hook_z has 4 heads", Error(() => HeadAblation.Mean(0, 4, cache)));
        Assert.Contains("head -1 is out of range", Error(() => HeadAblation.Mean(0, -1, cache)));
    }

    [Fact]
    public void Direct_logit_attribution_names_every_component_once()
    {
        using var model = TinyModels.Build("gpt2"); // biases: attention output biases and a final-norm bias
        using var scope = torch.NewDisposeScope();
        var dla = DirectLogitAttribution.Compute(model, TinyModels.Tokens(5), 3, 4);
        var names = dla.Components.Select(c => c.Name).ToList();
        Assert.All(names, n => Assert.False(string.IsNullOrEmpty(n)));
        Assert.Equal(names.Count, names.Distinct().Count());
        // embed + per layer (4 heads + attention bias + mlp) + final-norm bias
        Assert.Equal(1 + 2 * (4 + 1 + 1) + 1, names.Count);
    }

    [Fact]
    public void The_activation_cache_counts_its_bytes_frees_what_it_replaces_and_names_what_it_holds()
    {
        using var scope = torch.NewDisposeScope();
        var cache = new ActivationCache();
        Assert.Contains("nothing was captured to save", Error(() => cache.Save(Path.Combine(Path.GetTempPath(), "never-written.safetensors"))));
        var first = torch.zeros(2, 3).DetachFromDisposeScope();
        cache.Store("a", first);
        cache.Store("b", torch.zeros(new long[] { 5 }, ScalarType.Float64).DetachFromDisposeScope());
        Assert.Equal(2 * 3 * 4 + 5 * 8, cache.Bytes);
        cache.Store("a", torch.ones(4).DetachFromDisposeScope());
        Assert.True(first.IsInvalid); // the replaced tensor was freed
        Assert.Equal(4 * 4 + 5 * 8, cache.Bytes);
        Assert.Contains("'c' was not captured; captured: a, b", Error(() => _ = cache["c"]));
        var kept = cache["b"];
        cache.Dispose();
        Assert.True(kept.IsInvalid);
        Assert.Equal(0, cache.Count);
    }
}
