using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models.Variants;

/// <summary>
/// Magnitude-Aware Linear Attention (Fan et al., "Rectifying Magnitude Neglect in Linear Attention", ICCV 2025). With
/// s_ij = phi(q_i)·phi(k_j) / sqrt(d) over the n_i keys query i sees and z_i their mean, the weights are
/// beta_i s_ij / n_i - gamma_i / n_i with beta_i = 1 + 1/z_i and gamma_i = z_i: they still sum to 1, but a larger query
/// (larger s and z) makes them spikier, as softmax's are, where plain linear attention's stay the same.
/// </summary>
public sealed record MagnitudeAwareLinearAttention : AttentionVariant
{
    [JsonIgnore] public override bool SoftmaxWeights => false;

    public override IEnumerable<string> Problems(ModelSpec spec) => [];

    public override Tensor? Weights(ModelSpec spec, Tensor q, Tensor k, Tensor? allowed, double scale, Func<Tensor, Tensor> scores)
    {
        var s = scores(LinearAttention.Kernel(q, k, allowed).mul(torch.tensor(scale)));
        // Keys each query sees: [B or 1, H or 1, T, 1].
        var visible = allowed is null
            ? torch.full([1, 1, q.shape[2], 1], (float)k.shape[2])
            : (allowed.dim() == 2 ? allowed.unsqueeze(0).unsqueeze(0) : allowed.dim() == 3 ? allowed.unsqueeze(0) : allowed)
                .to(ScalarType.Float32).sum([-1], keepdim: true);
        var z = s.sum([-1], keepdim: true).div(visible);                       // mean score, > 0 (phi is positive)
        var beta = z.clamp_min(HeldScalars.ProbabilityFloor).reciprocal().add(HeldScalars.One, HeldScalars.One);
        var w = s.div(visible).mul(beta).sub(z.div(visible));
        return allowed is null ? w : w.masked_fill(allowed.logical_not(), HeldScalars.Zero);
    }

    public override string Describe(ModelSpec spec) => "magnitude-aware linear attention (MALA), phi = elu + 1";
}
