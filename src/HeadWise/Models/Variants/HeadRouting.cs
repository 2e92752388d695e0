using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models.Variants;

/// <summary>
/// What a routed attention (<see cref="MixtureOfHeads"/>) reports from a forward pass when
/// <see cref="Transformer.Routing"/> holds one: each layer's load-balance loss (with gradients, for the trainer) and
/// how many tokens chose each head (for the model card).
/// </summary>
public sealed class HeadRouting
{
    private readonly List<Tensor> _losses = [];

    public HeadRouting(int layers, int heads)
    {
        Chosen = Enumerable.Range(0, layers).Select(_ => new long[heads]).ToArray();
        Tokens = new long[layers];
    }

    /// <summary>[layer][head]: tokens that activated the head (shared heads: every token).</summary>
    public long[][] Chosen { get; }
    /// <summary>[layer]: tokens routed.</summary>
    public long[] Tokens { get; }

    /// <summary>Sum of the layers' load-balance losses since the last <see cref="TakeLoss"/>; null when none was recorded.</summary>
    public Tensor? TakeLoss()
    {
        if (_losses.Count == 0) return null;
        var sum = _losses.Aggregate((a, b) => a.Plus(b));
        _losses.Clear();
        return sum;
    }

    /// <summary>Share of tokens that activated each head, [layer][head].</summary>
    public double[][] Shares() => Chosen.Select((c, l) => c.Select(n => Tokens[l] == 0 ? 0 : n / (double)Tokens[l]).ToArray()).ToArray();

    internal void Record(int layer, int shared, Tensor probs, Tensor chosen)
    {
        long tokens = probs.shape[0] * probs.shape[1];
        var flatProbs = probs.reshape(tokens, -1);
        var flatChosen = chosen.reshape(tokens, -1);
        int routed = (int)flatProbs.shape[1];
        // MoH's load-balance loss: R^2 mean_i(f_i P_i); 1 when routing is uniform.
        var loss = flatProbs.mean([0]).mul(flatChosen.mean([0])).mean().mul(torch.tensor((float)(routed * routed)));
        if (probs.requires_grad) _losses.Add(loss.MoveToOuterDisposeScope());
        var counts = flatChosen.sum([0]).to(ScalarType.Int64).data<long>().ToArray();
        for (int h = 0; h < shared; h++) Chosen[layer][h] += tokens;
        for (int r = 0; r < routed; r++) Chosen[layer][shared + r] += counts[r];
        Tokens[layer] += tokens;
    }
}
