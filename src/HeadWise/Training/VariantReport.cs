using HeadWise.Models;
using HeadWise.Models.Variants;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>
/// What the card says about the attention (softmax or a variant): its description, the attention FLOPs of one forward pass over
/// <see cref="FlopsLength"/> tokens, and for a routed variant (MoH) the share of held-out tokens that activated each head.
/// </summary>
public sealed record VariantReport(string Kind, string Description, int FlopsLength, double AttentionFlops, double[][]? HeadShares, int? RoutedTokens)
{
    /// <summary>
    /// Forward FLOPs of every layer's attention over a causal sequence of <paramref name="length"/> tokens: the Q, K, V
    /// and output projections (2 per multiply-add) and the score and value products over the visible (query, key) pairs.
    /// </summary>
    public static double AttentionFlopsOf(ModelSpec s, int length)
    {
        double t = length, pairs = t * (t + 1) / 2;
        double projections = 2 * t * s.Dim * (s.QDim + 2.0 * s.KvDim) + 2 * t * s.QDim * s.Dim;
        double products = 2 * 2 * pairs * s.Heads * s.HeadDim;
        return s.Layers * (projections + products);
    }

    /// <summary>The report of any model: a softmax model (no variant) is kind "softmax", so variant tables compare like with like.</summary>
    public static VariantReport Measure(Transformer model, int[] heldOut, int bos, int length)
    {
        var spec = model.Spec;
        var variant = spec.Attention;
        double[][]? shares = null;
        int? tokens = null;
        if (variant is MixtureOfHeads)
        {
            // Route held-out windows (BOS + text) and count which heads each token activated.
            int window = Math.Min(spec.ContextLength, 256), windows = Math.Max(1, Math.Min(16, heldOut.Length / window));
            var routing = new HeadRouting(spec.Layers, spec.Heads);
            var previous = model.Routing;
            model.Routing = routing;
            try
            {
                using var scope = torch.NewDisposeScope();
                using var _ = torch.no_grad();
                for (int w = 0; w < windows; w++)
                {
                    var ids = new long[window];
                    ids[0] = bos;
                    for (int i = 1; i < window; i++) ids[i] = heldOut[(w * (window - 1) + i - 1) % heldOut.Length];
                    model.Forward(torch.tensor(ids, [1, window]));
                }
            }
            finally { model.Routing = previous; }
            shares = routing.Shares();
            tokens = (int)routing.Tokens[0];
        }
        return new VariantReport(variant?.Kind ?? "softmax", variant?.Describe(spec) ?? "softmax attention", length, AttentionFlopsOf(spec, length), shares, tokens);
    }
}
