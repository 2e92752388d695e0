using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models.Variants;

/// <summary>
/// Sigmoid attention without normalisation ("When Attention Sink Emerges", Gu et al. 2025, section 7): each weight is
/// sigmoid(q·k / sqrt(d) + b) on its own, so no key competes with another for a fixed mass and nothing pushes a head to
/// park attention on the first token. b is the bias of Ramapuram et al. ("Theory, Analysis, and Best Practices for
/// Sigmoid Self-Attention"), -ln(n) with n the context length, which keeps the summed weight near 1 at initialisation;
/// <see cref="Bias"/> sets another constant (0: Gu et al.'s released code).
/// </summary>
public sealed record SigmoidAttention : AttentionVariant
{
    /// <summary>The constant b; null: -ln(context length).</summary>
    public double? Bias { get; init; }

    [JsonIgnore] public override bool SoftmaxWeights => false;

    public double BiasFor(ModelSpec spec) => Bias ?? -Math.Log(spec.ContextLength);

    public override IEnumerable<string> Problems(ModelSpec spec)
    {
        if (Bias is { } b && !(double.IsFinite(b) && Math.Abs(b) <= 100)) yield return $"bias = {b} must be a finite number in [-100, 100]";
    }

    public override Tensor? Weights(ModelSpec spec, Tensor q, Tensor k, Tensor? allowed, double scale, Func<Tensor, Tensor> scores)
    {
        var s = torch.matmul(q, k.transpose(-2, -1)).mul(torch.tensor(scale));
        if (allowed is not null) s = s.masked_fill(allowed.logical_not(), HeldScalars.NegativeInfinity);
        // Masked scores are -inf, so their weight is sigmoid(-inf) = 0.
        return torch.sigmoid(scores(s).add(torch.tensor(BiasFor(spec)), HeldScalars.One));
    }

    public override string Describe(ModelSpec spec) => $"sigmoid attention without normalisation, bias {BiasFor(spec):0.###}";
}
