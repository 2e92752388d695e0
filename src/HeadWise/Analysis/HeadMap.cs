using System.Text.Json.Nodes;

namespace HeadWise.Analysis;

/// <summary>One score for every head: Values[layer][head], plus the parameters it was computed with.</summary>
public sealed record HeadMap(string Name, double[][] Values, JsonObject? Params = null)
{
    public int Layers => Values.Length;
    public int Heads => Values.Length == 0 ? 0 : Values[0].Length;
    public double this[int layer, int head] => Values[layer][head];

    public static double[][] Zeros(int layers, int heads) => Enumerable.Range(0, layers).Select(_ => new double[heads]).ToArray();

    /// <summary>All values in (layer, head) order.</summary>
    public IEnumerable<double> Flat() => Values.SelectMany(r => r);

    /// <summary>Heads ordered by descending value: (layer, head) pairs.</summary>
    public List<(int Layer, int Head)> Ranked() =>
        Enumerable.Range(0, Layers).SelectMany(l => Enumerable.Range(0, Heads).Select(h => (l, h)))
            .OrderByDescending(p => Values[p.l][p.h]).ThenBy(p => p.l).ThenBy(p => p.h).Select(p => (p.l, p.h)).ToList();
}
