using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Models.Variants;

/// <summary>
/// Plain linear attention (Katharopoulos et al. 2020), the baseline MALA improves on: weights phi(q)·phi(k) / sum over
/// the visible keys, phi = elu + 1. Scaling a query leaves its weights unchanged (the magnitude cancels), which MALA
/// repairs. Computed here in the quadratic form, the same numbers as the linear-time recurrence.
/// </summary>
public sealed record LinearAttention : AttentionVariant
{
    [JsonIgnore] public override bool SoftmaxWeights => false;

    public override IEnumerable<string> Problems(ModelSpec spec) => [];

    /// <summary>phi(q)·phi(k) with phi = elu + 1 (positive), zero where a key is not visible: [B, H, T, S].</summary>
    internal static Tensor Kernel(Tensor q, Tensor k, Tensor? allowed)
    {
        var a = torch.matmul(F.elu(q, 1.0).add(HeldScalars.One, HeldScalars.One), F.elu(k, 1.0).add(HeldScalars.One, HeldScalars.One).transpose(-2, -1));
        return allowed is null ? a : a.masked_fill(allowed.logical_not(), HeldScalars.Zero);
    }

    public override Tensor? Weights(ModelSpec spec, Tensor q, Tensor k, Tensor? allowed, double scale, Func<Tensor, Tensor> scores)
    {
        var a = scores(Kernel(q, k, allowed));
        return a.div(a.sum([-1], keepdim: true).clamp_min(HeldScalars.ProbabilityFloor));
    }

    public override string Describe(ModelSpec spec) => "linear attention, phi = elu + 1, normalised over the visible keys";
}
