using System.Text.Json.Nodes;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// Pairwise head similarity (as DHA and ProxyAttn group heads): cosine similarity of two heads' attention patterns, averaged
/// over the probes. The map gives each head's highest similarity to another head of its layer (redundancy); the parameters
/// hold the full matrix over all heads (row/column "L.H" in layer-major order) and the clusters formed by average-linkage
/// agglomeration down to <c>threshold</c>.
/// </summary>
public sealed class SimilarityScore(double threshold = 0.8) : IHeadScore
{
    public string Name => "similarity";
    public string? Unsupported(ModelSpec spec) => null;

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads, n = layers * heads;
        var sim = new double[n, n];
        foreach (var doc in ctx.Patterns)
        {
            using var scope = torch.NewDisposeScope();
            var flat = torch.cat(doc.Select(p => p.reshape(heads, -1)).ToArray(), 0); // [L*H, T*T]
            flat = flat / flat.norm(1, keepdim: true).clamp_min(HeldScalars.NormFloor);
            var m = torch.matmul(flat, flat.t()).to_type(ScalarType.Float64).data<double>().ToArray();
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) sim[i, j] += m[i * n + j] / ctx.Patterns.Count;
        }
        var values = HeadMap.Zeros(layers, heads);
        for (int l = 0; l < layers; l++)
            for (int h = 0; h < heads; h++)
                values[l][h] = heads == 1 ? 0 : Enumerable.Range(0, heads).Where(o => o != h).Max(o => sim[l * heads + h, l * heads + o]);
        var clusters = Cluster(sim, n, threshold);
        var matrix = new JsonArray(Enumerable.Range(0, n).Select(i => (JsonNode)new JsonArray(Enumerable.Range(0, n).Select(j => (JsonNode)Math.Round(sim[i, j], 4)).ToArray())).ToArray());
        return [new HeadMap(Name, values, new JsonObject
        {
            ["measure"] = "cosine similarity of attention patterns; map = max over other heads of the same layer",
            ["threshold"] = threshold, ["matrix"] = matrix,
            ["clusters"] = new JsonArray(clusters.Select(c => (JsonNode)new JsonArray(c.Select(i => (JsonNode)$"{i / heads}.{i % heads}").ToArray())).ToArray()),
        })];
    }

    /// <summary>Average-linkage agglomerative clustering: merge the most similar pair of clusters while their mean similarity &gt;= threshold.</summary>
    internal static List<List<int>> Cluster(double[,] sim, int n, double threshold)
    {
        var clusters = Enumerable.Range(0, n).Select(i => new List<int> { i }).ToList();
        while (clusters.Count > 1)
        {
            double best = double.NegativeInfinity; int bi = -1, bj = -1;
            for (int i = 0; i < clusters.Count; i++)
                for (int j = i + 1; j < clusters.Count; j++)
                {
                    double s = clusters[i].SelectMany(a => clusters[j].Select(b => sim[a, b])).Average();
                    if (s > best) (best, bi, bj) = (s, i, j);
                }
            if (best < threshold) break;
            clusters[bi].AddRange(clusters[bj]);
            clusters[bi].Sort();
            clusters.RemoveAt(bj);
        }
        return clusters.OrderBy(c => c[0]).ToList();
    }
}
