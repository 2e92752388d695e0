using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Models.Variants;

/// <summary>
/// Mixture-of-Head attention (Jin et al., "MoH: Multi-Head Attention as Mixture-of-Head Attention", ICML 2025): heads
/// are experts. Heads 0..shared-1 are always active; each token routes to the top-k of the other heads. A head's output
/// is weighed before W_O: shared heads by alpha1 softmax(W_s x) x shared, routed heads by alpha2 times their router
/// probability renormalised over the chosen k, x k, with [alpha1, alpha2] = 2 softmax(W_h x) (so uniform routing
/// reproduces the plain sum). Training adds balance_weight times the load-balance loss R² mean_i(f_i P_i) per layer
/// (R routed heads, f_i the share of tokens choosing head i, P_i its mean router probability).
/// The heads are computed densely and masked: the claim measured is the loss, not the speed.
/// </summary>
public sealed record MixtureOfHeads : AttentionVariant
{
    public int SharedHeads { get; init; }
    public required int TopK { get; init; }
    public double BalanceWeight { get; init; } = 0.01;


    public int RoutedHeads(ModelSpec spec) => spec.Heads - SharedHeads;

    public override IEnumerable<string> Problems(ModelSpec spec)
    {
        if (SharedHeads < 0 || SharedHeads >= spec.Heads)
            yield return $"shared_heads = {SharedHeads} must be in 0..{spec.Heads - 1} (the model has {spec.Heads} heads; at least one is routed)";
        else if (TopK < 1 || TopK > RoutedHeads(spec))
            yield return $"top_k = {TopK} must be in 1..{RoutedHeads(spec)}: it picks among the {RoutedHeads(spec)} routed heads ({spec.Heads} heads, {SharedHeads} shared)";
        if (!(double.IsFinite(BalanceWeight) && BalanceWeight >= 0 && BalanceWeight <= 10)) yield return $"balance_weight = {BalanceWeight} must be in [0, 10]";
    }

    public override IEnumerable<(string Local, string Hf, long[] Shape)> LayerTensors(ModelSpec spec)
    {
        yield return ("moh_router.weight", "moh_router.weight", [RoutedHeads(spec), spec.Dim]);
        if (SharedHeads > 1) yield return ("moh_shared.weight", "moh_shared.weight", [SharedHeads, spec.Dim]);
        if (SharedHeads > 0) yield return ("moh_mix.weight", "moh_mix.weight", [2, spec.Dim]);
    }

    public override Tensor? HeadGates(ModelSpec spec, LayerWeights w, Tensor x, int layer, HeadRouting? routing)
    {
        x = x.to(ScalarType.Float32);
        Tensor Router(string name) => F.linear(x, w.Tensors[name].to(ScalarType.Float32));
        var probs = F.softmax(Router("moh_router.weight"), -1);                                 // [B, T, R]
        var chosen = F.one_hot(probs.topk(TopK, -1).indexes, RoutedHeads(spec)).sum([-2]).to(ScalarType.Float32);
        var routed = probs.mul(chosen);
        routed = routed.div(routed.sum([-1], keepdim: true).clamp_min(HeldScalars.ProbabilityFloor)).mul(torch.tensor((float)TopK));
        routing?.Record(layer, SharedHeads, probs, chosen);
        if (SharedHeads == 0) return routed;
        var shared = SharedHeads > 1
            ? F.softmax(Router("moh_shared.weight"), -1).mul(torch.tensor((float)SharedHeads))
            : torch.ones(x.shape[0], x.shape[1], 1);
        var mix = F.softmax(Router("moh_mix.weight"), -1).mul(HeldScalars.Two);
        return torch.cat([shared.mul(mix.narrow(-1, 0, 1)), routed.mul(mix.narrow(-1, 1, 1))], -1);
    }

    public override string Describe(ModelSpec spec) =>
        $"Mixture-of-Head attention: {SharedHeads} shared heads + top-{TopK} of {RoutedHeads(spec)} routed heads per token " +
        $"({(SharedHeads + TopK) * 100.0 / spec.Heads:0.#}% of {spec.Heads} heads active), load-balance weight {BalanceWeight}";
}
