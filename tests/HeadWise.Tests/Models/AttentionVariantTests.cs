using HeadWise.Heads;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Models.Variants;
using HeadWise.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Models;

/// <summary>
/// Issue 20: each attention variant's output equals its paper's formula, written out here as plain double loops over
/// the queries, keys and values the forward pass captured (hooks), independent of the tensor code under test.
/// </summary>
public class AttentionVariantTests
{
    private const int T = 12, Layers = 2, Dim = 32, Heads = 4;

    private static ModelSpec Spec(AttentionVariant? variant, int heads = Heads, int kvHeads = Heads) => new()
    {
        Architecture = "llama", Layers = Layers, Dim = Dim, Heads = heads, KvHeads = kvHeads, HeadDim = Dim / Heads,
        FfnDim = 48, VocabSize = 64, ContextLength = 64, Attention = variant,
    };

    /// <summary>Random weights with q and k scaled up, so that attention is far from uniform and the formulas differ.</summary>
    private static ModelWeights Weights(ModelSpec spec, int seed = 3)
    {
        var w = ModelInit.Random(spec, seed);
        using var _ = torch.no_grad();
        foreach (var layer in w.Layers) { layer.Wq.mul_(HeldScalars.Two).mul_(10.ToScalar()); layer.Wk.mul_(10.ToScalar()); }
        return w;
    }

    private static Tensor Tokens(int seed = 9)
    {
        var rng = new Random(seed);
        return torch.tensor(Enumerable.Range(0, T).Select(_ => (long)rng.Next(64)).ToArray(), [1, T]);
    }

    /// <summary>Layer 1's rotated q, k, v and z as [T][H][d] arrays (k and v per KV head).</summary>
    private static (double[][][] Q, double[][][] K, double[][][] V, double[][][] Z) Capture(Transformer model, Tensor tokens)
    {
        var names = HookNames.ForLayer(1);
        var got = new Dictionary<string, double[][][]>();
        var hooks = new HookSet();
        foreach (var name in new[] { names.RotQ, names.RotK, names.V, names.Z })
            hooks.Add(name, x => { got[name] = ToArray(x); return x; });
        using (torch.no_grad()) model.Forward(tokens, hooks: hooks);
        return (got[names.RotQ], got[names.RotK], got[names.V], got[names.Z]);
    }

    private static double[][][] ToArray(Tensor x)
    {
        var a = x.to(ScalarType.Float64).contiguous().data<double>().ToArray();   // [1, T, H, d]
        int t = (int)x.shape[1], h = (int)x.shape[2], d = (int)x.shape[3];
        return Enumerable.Range(0, t).Select(i => Enumerable.Range(0, h).Select(j => a.AsSpan((i * h + j) * d, d).ToArray()).ToArray()).ToArray();
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();
    private static double[] Phi(double[] x) => x.Select(v => v > 0 ? v + 1 : Math.Exp(v)).ToArray();

    /// <summary>z[i][h] = sum over j &lt;= i of weights(i, h)[j] v[j][kv head of h].</summary>
    private static void AssertOutputs(double[][][] v, double[][][] z, int groupSize, Func<int, int, double[]> weights, double tolerance = 1e-4)
    {
        double worst = 0, spread = 0;
        for (int i = 0; i < z.Length; i++)
            for (int h = 0; h < z[i].Length; h++)
            {
                var w = weights(i, h);
                Assert.Equal(i + 1, w.Length);
                for (int c = 0; c < z[i][h].Length; c++)
                {
                    double expected = 0;
                    for (int j = 0; j <= i; j++) expected += w[j] * v[j][h / groupSize][c];
                    worst = Math.Max(worst, Math.Abs(expected - z[i][h][c]));
                    spread = Math.Max(spread, Math.Abs(expected));
                }
            }
        Assert.True(spread > 0.01, $"outputs are all near 0 ({spread:g3}): the comparison would prove nothing");
        Assert.True(worst <= tolerance * Math.Max(1, spread), $"max |z - formula| = {worst:g3} (outputs up to {spread:g3})");
    }

    [Fact]
    public void Softmax_reference_matches_the_hand_formula_so_the_harness_itself_is_right()
    {
        var spec = Spec(null);
        using var w = Weights(spec);
        var (q, k, v, z) = Capture(new Transformer(spec, w), Tokens());
        double scale = 1 / Math.Sqrt(spec.HeadDim);
        AssertOutputs(v, z, 1, (i, h) =>
        {
            var s = Enumerable.Range(0, i + 1).Select(j => Dot(q[i][h], k[j][h]) * scale).ToArray();
            double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
            return s.Select(x => Math.Exp(x - max) / sum).ToArray();
        });
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0.0)]
    public void Sigmoid_attention_is_sigmoid_of_the_scaled_score_plus_bias_without_normalisation(double? bias)
    {
        var variant = new SigmoidAttention { Bias = bias };
        var spec = Spec(variant);
        double b = bias ?? -Math.Log(spec.ContextLength);
        using var w = Weights(spec);
        var (q, k, v, z) = Capture(new Transformer(spec, w), Tokens());
        double scale = 1 / Math.Sqrt(spec.HeadDim);
        AssertOutputs(v, z, 1, (i, h) => Enumerable.Range(0, i + 1).Select(j => 1 / (1 + Math.Exp(-(Dot(q[i][h], k[j][h]) * scale + b)))).ToArray());
    }

    [Fact]
    public void Linear_attention_is_phi_q_phi_k_normalised_over_the_visible_keys()
    {
        var spec = Spec(new LinearAttention());
        using var w = Weights(spec);
        var (q, k, v, z) = Capture(new Transformer(spec, w), Tokens());
        AssertOutputs(v, z, 1, (i, h) =>
        {
            var a = Enumerable.Range(0, i + 1).Select(j => Dot(Phi(q[i][h]), Phi(k[j][h]))).ToArray();
            return a.Select(x => x / a.Sum()).ToArray();
        });
    }

    [Fact]
    public void Mala_weights_are_beta_s_minus_gamma_over_the_visible_keys_and_sum_to_one()
    {
        var spec = Spec(new MagnitudeAwareLinearAttention(), kvHeads: 2);   // grouped-query KV heads too
        using var w = Weights(spec);
        var (q, k, v, z) = Capture(new Transformer(spec, w), Tokens());
        double scale = 1 / Math.Sqrt(spec.HeadDim);
        AssertOutputs(v, z, 2, (i, h) =>
        {
            int n = i + 1;
            var s = Enumerable.Range(0, n).Select(j => Dot(Phi(q[i][h]), Phi(k[j][h / 2])) * scale).ToArray();
            double mean = s.Average(), beta = 1 + 1 / mean, gamma = mean;
            var weights = s.Select(x => beta * x / n - gamma / n).ToArray();
            Assert.Equal(1.0, weights.Sum(), 9);
            return weights;
        });
    }

    [Fact]
    public void Mala_weights_sharpen_with_the_query_magnitude_where_linear_attentions_do_not()
    {
        // The paper's point, on hand-made vectors through the variants' own weight functions: phi(q2) = 4 phi(q1)
        // (positive components, where phi(x) = x + 1), the same direction with four times the magnitude.
        var q1 = torch.tensor(new float[] { 0.5f, 0.2f, 0.3f, 0.1f }, [1, 1, 1, 4]);
        var q2 = torch.tensor(new float[] { 5f, 3.8f, 4.2f, 3.4f }, [1, 1, 1, 4]);
        var k = torch.tensor(new float[] { 1, 0, 0, 0, 0, 1, 0, 0, -1, 0, 1, 0 }, [1, 1, 3, 4]);
        var spec = Spec(null);
        double Spread(AttentionVariant variant, Tensor q)
        {
            var w = variant.Weights(spec, q, k, null, 0.5, s => s)!.data<float>().ToArray();
            return w.Max() - w.Min();
        }
        Assert.Equal(Spread(new LinearAttention(), q1), Spread(new LinearAttention(), q2), 5);    // the magnitude cancels
        Assert.True(Spread(new MagnitudeAwareLinearAttention(), q2) > 1.5 * Spread(new MagnitudeAwareLinearAttention(), q1),
            $"MALA spread {Spread(new MagnitudeAwareLinearAttention(), q1):0.000} -> {Spread(new MagnitudeAwareLinearAttention(), q2):0.000}");
    }

    [Fact]
    public void Moh_with_silent_routers_and_every_head_chosen_equals_plain_multi_head_attention()
    {
        // Zero routers give uniform probabilities; with top_k = all routed heads every gate is 1 (MoH's scaling), so the
        // output is the plain sum over heads: the by-construction case of MoH's weighted summation.
        var moh = Spec(new MixtureOfHeads { SharedHeads = 2, TopK = 2 });
        using var w = Weights(moh);
        using (torch.no_grad())
            foreach (var layer in w.Layers)
                foreach (var (name, t) in layer.Tensors) if (name.StartsWith("moh_", StringComparison.Ordinal)) t.zero_();
        var plainSpec = Spec(null);
        var plainWeights = new ModelWeights(w.Named().Where(n => !n.Name.Contains("moh_")).Where(n => !n.Name.StartsWith("blk.")).ToDictionary(n => n.Name, n => n.Tensor),
            w.Layers.Select(l => new LayerWeights(l.Tensors.Where(kv => !kv.Key.StartsWith("moh_", StringComparison.Ordinal)))).ToList());
        using var _ = torch.no_grad();
        var tokens = Tokens();
        var a = new Transformer(moh, w).Forward(tokens);
        var b = new Transformer(plainSpec, plainWeights).Forward(tokens);
        Assert.True(a.allclose(b, rtol: 0, atol: 1e-5), $"max diff {(a - b).abs().max().item<float>()}");
    }

    [Fact]
    public void Moh_silences_the_heads_a_token_did_not_choose_and_counts_its_choices()
    {
        var variant = new MixtureOfHeads { SharedHeads = 1, TopK = 1 };
        var spec = Spec(variant);
        using var w = Weights(spec);
        var model = new Transformer(spec, w) { Routing = new HeadRouting(Layers, Heads) };
        var (_, _, _, z) = Capture(model, Tokens());
        // Per token: the shared head 0 and exactly one of the 3 routed heads are non-zero.
        for (int i = 0; i < T; i++)
        {
            Assert.Contains(z[i][0], c => c != 0);
            Assert.Equal(1, Enumerable.Range(1, 3).Count(h => z[i][h].Any(c => c != 0)));
        }
        var shares = model.Routing!.Shares();
        Assert.All(shares, layer => Assert.Equal(1.0, layer[0]));                        // shared: every token
        Assert.All(shares, layer => Assert.Equal(1.0, layer.Skip(1).Sum(), 9));           // top-1 of the routed heads
        Assert.Equal(T, model.Routing.Tokens[1]);
    }

    [Fact]
    public void Non_softmax_variants_refuse_a_compressing_kv_cache_by_name()
    {
        var spec = Spec(new SigmoidAttention());
        using var w = Weights(spec);
        var model = new Transformer(spec, w);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("streaming", KvBudget.Model(0.5), spec), CompressMode.Context);
        var e = Assert.Throws<HeadWiseException>(() => model.Forward(Tokens(), cache));
        Assert.Contains("sigmoid attention", e.Message);
        // The full cache is the same attention: decoding token by token equals the whole-sequence pass.
        using var full = new FullKvCache(spec);
        using var _ = torch.no_grad();
        var whole = model.Forward(Tokens());
        var tokens = Tokens();
        var first = model.Forward(tokens.narrow(1, 0, T - 1), full);
        var last = model.Forward(tokens.narrow(1, T - 1, 1), full);
        Assert.True(whole.narrow(1, T - 1, 1).allclose(last, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void Bad_variant_settings_are_refused_by_name()
    {
        string Problem(AttentionVariant v, ModelSpec spec) => Assert.Single(v.Problems(spec));
        Assert.Contains("top_k = 4 must be in 1..3", Problem(new MixtureOfHeads { SharedHeads = 1, TopK = 4 }, Spec(null)));
        Assert.Contains("shared_heads = 4", Problem(new MixtureOfHeads { SharedHeads = 4, TopK = 1 }, Spec(null)));
        Assert.Contains("query_heads = 3 does not divide the model's dimension 32", new SparseQueryAttention { QueryHeads = 3 }.Problems(Spec(null, heads: 3, kvHeads: 3)).First());
        Assert.Contains("bias", Problem(new SigmoidAttention { Bias = double.NaN }, Spec(null)));
        Assert.Empty(new SparseQueryAttention { QueryHeads = 2 }.Problems(Spec(null, heads: 2, kvHeads: 2)));
    }
}
