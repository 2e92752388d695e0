using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Attribution;

/// <summary>One additive piece of a logit: the embedding, one head's output, an attention bias, an MLP, the final-norm bias.</summary>
/// <param name="Name">"embed", "L{l}H{h}" for a head, "L{l}.attn_bias", "L{l}.mlp", "ln_final.bias".</param>
/// <param name="Layer">The block, or null outside blocks.</param>
/// <param name="Head">The query head, or null for non-head components.</param>
/// <param name="Value">Its direct contribution to the logit (difference).</param>
public sealed record DlaComponent(string Name, int? Layer, int? Head, double Value);

/// <summary>Direct logit attribution of one position's logit (or logit difference) to every component that writes to the residual stream.</summary>
/// <param name="Target">The target token id.</param>
/// <param name="Contrast">The contrast token id, or null.</param>
/// <param name="Position">The position attributed.</param>
/// <param name="Logit">The model's logit (difference) there.</param>
/// <param name="Components">Every component's direct contribution; they sum to <paramref name="Logit"/>.</param>
/// <param name="Heads">Per head [layer, head] contributions.</param>
public sealed record DlaResult(int Target, int? Contrast, long Position, double Logit, IReadOnlyList<DlaComponent> Components, double[,] Heads)
{
    /// <summary>Sum of all components: equals <see cref="Logit"/> up to rounding.</summary>
    public double Sum => Components.Sum(c => c.Value);

    /// <summary>The <paramref name="n"/> heads with the largest contributions.</summary>
    public IEnumerable<DlaComponent> TopHeads(int n) => Components.Where(c => c.Head is not null).OrderByDescending(c => c.Value).Take(n);
}

/// <summary>
/// Decomposes a logit into the residual stream's components. The final norm is made linear by freezing its scale (1/rms,
/// and for LayerNorm the centring is applied to each component) at the clean run's values, so the components sum exactly
/// to the model's logit. Computed in float64.
/// </summary>
public static class DirectLogitAttribution
{
    /// <summary>
    /// Direct logit attribution of <paramref name="target"/> (minus <paramref name="contrast"/>) at <paramref name="position"/> (-1: the last)
    /// of <paramref name="tokens"/> [1, T], with the final norm's scale frozen from the clean run.
    /// </summary>
    public static DlaResult Compute(Transformer model, Tensor tokens, int target, int? contrast = null, long position = -1)
    {
        var spec = model.Spec;
        if (spec.PostNorm) throw new HeadWiseException($"{spec.Architecture} is a post-norm encoder: its residual stream is not a sum of components");
        using var scope = torch.NewDisposeScope();
        var u = LogitDirection.Of(model, target, contrast);
        long p = LogitDirection.ResolvePosition(position, tokens.shape[1]);
        var captures = new List<CaptureSpec> { new(HookNames.ForLayer(0).ResidPre, null, p, 1), new(HookNames.ForLayer(spec.Layers - 1).ResidPost, null, p, 1) };
        for (int l = 0; l < spec.Layers; l++)
        {
            captures.Add(new(HookNames.ForLayer(l).Result, null, p, 1));
            captures.Add(new(HookNames.ForLayer(l).MlpOut, null, p, 1));
        }
        var (logits, cache) = model.RunWithCache(tokens, captures);
        using var _ = cache;
        double logit = LogitDirection.Metric(logits, target, contrast, p);

        var norm = new FrozenNorm(model, cache[HookNames.ForLayer(spec.Layers - 1).ResidPost][0, 0].to(ScalarType.Float64));
        double Project(Tensor c) => norm.Apply(c.to(ScalarType.Float64)).matmul(u).ToDouble();

        var parts = new List<DlaComponent> { new("embed", null, null, Project(cache[HookNames.ForLayer(0).ResidPre][0, 0])) };
        var heads = new double[spec.Layers, spec.Heads];
        for (int l = 0; l < spec.Layers; l++)
        {
            var result = cache[HookNames.ForLayer(l).Result][0, 0]; // [H, D]
            var perHead = norm.Apply(result.to(ScalarType.Float64)).matmul(u).data<double>().ToArray();
            for (int h = 0; h < spec.Heads; h++)
            {
                heads[l, h] = perHead[h];
                parts.Add(new($"L{l}H{h}", l, h, perHead[h]));
            }
            if (model.Weights.Layers[l].Bo is { } bo) parts.Add(new($"L{l}.attn_bias", l, null, Project(bo)));
            parts.Add(new($"L{l}.mlp", l, null, Project(cache[HookNames.ForLayer(l).MlpOut][0, 0])));
        }
        if (model.Weights.OutputNormBias is { } b) parts.Add(new("ln_final.bias", null, null, b.to(ScalarType.Float64).matmul(u).ToDouble()));
        return new DlaResult(target, contrast, p, logit, parts, heads);
    }

    /// <summary>The final norm with its scale (and LayerNorm centring) frozen at the clean residual: linear in its input, bias excluded.</summary>
    private sealed class FrozenNorm
    {
        private readonly Tensor _gain; // scale * weight
        private readonly bool _centre;

        public FrozenNorm(Transformer model, Tensor residual)
        {
            var spec = model.Spec;
            _centre = spec.Norm == NormKind.LayerNorm;
            var centred = _centre ? residual - residual.mean() : residual;
            using Scalar eps = spec.NormEps;   // held: an implicit Scalar could be finalised while libtorch reads it
            var scale = torch.rsqrt(centred.pow(HeldScalars.Two).mean().add(eps));
            _gain = scale * model.Weights.OutputNorm!.to(ScalarType.Float64);
        }

        /// <summary>Applies to component vectors [..., D].</summary>
        public Tensor Apply(Tensor c) => (_centre ? c - c.mean([-1], keepdim: true) : c) * _gain;
    }
}
