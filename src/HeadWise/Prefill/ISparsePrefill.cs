using HeadWise.Models;
using HeadWise.Steering;
using static TorchSharp.torch;

namespace HeadWise.Prefill;

/// <summary>
/// A sparse prefill (ProxyAttn, DHSA): cuts the keys into segments and chooses, per query head and per query segment, the
/// key segments attended during prefill (<see cref="BlockSparseAttention"/> computes only those). Decoding is exact.
/// </summary>
public interface ISparsePrefill
{
    /// <summary>The name `--prefill` takes.</summary>
    string Name { get; }

    /// <summary>The parameters as `--prefill-params` writes them, for results.</summary>
    string Parameters { get; }

    /// <summary>
    /// For queries q [1, H, T, d] at positions S - T .. S - 1 over keys and values [1, KvH, S, d] (RoPE applied by
    /// <paramref name="rope"/>, null for learned positions): the segment boundaries over [0, S) and, per head, query
    /// segment and key segment, whether the pair is attended ([H, nQ, nK], nQ counting the segments that hold queries,
    /// the last nQ of the nK). The segment holding a query itself must be selected (a query always sees itself).
    /// </summary>
    (long[] Bounds, Tensor Selected) Select(Tensor q, Tensor k, Tensor v, Rope? rope);
}

/// <summary>The sparse prefills by name, and their parameters.</summary>
public static class SparsePrefills
{
    public static readonly IReadOnlyList<string> Names = ["proxyattn", "dhsa"];

    /// <summary>The method <paramref name="name"/> with `key=value,...` parameters over its defaults; an unknown name or key, or a value out of range, is one error.</summary>
    public static ISparsePrefill Create(string name, string? parameters) => name switch
    {
        "proxyattn" => ProxyAttn.Parse(parameters),
        "dhsa" => Dhsa.Parse(parameters),
        _ => throw new HeadWiseException($"unknown --prefill method '{name}'; known: {string.Join(", ", Names)}"),
    };

    /// <summary>Every method's parameters with meaning and range, for help texts.</summary>
    public static string Help => $"proxyattn: {string.Join(", ", ProxyAttn.Keys.Select(k => k.Usage))}; dhsa: {string.Join(", ", Dhsa.Keys.Select(k => k.Usage))}";

    internal static SteeringParams Read(string method, string? text, IReadOnlyList<SteeringParams.Key> keys) => SteeringParams.Parse(method, text, keys);
}

/// <summary>What a sparse prefill computed: attended (head, query segment, key segment) pairs against the causal pairs dense attention computes.</summary>
public sealed class PrefillStats
{
    public long Computed { get; private set; }
    public long Causal { get; private set; }

    /// <summary>Attended share of the causal segment pairs (1 when nothing ran sparse).</summary>
    public double Share => Causal == 0 ? 1 : (double)Computed / Causal;

    public void Add(long computed, long causal) { Computed += computed; Causal += causal; }

    /// <summary>Counts a selection [H, nQ, n] against the causal pairs (query segment i, absolute n - nQ + i, sees key segments 0..it).</summary>
    public void Add(Tensor selected)
    {
        long h = selected.shape[0], nq = selected.shape[1], n = selected.shape[2];
        long causal = h * Enumerable.Range(0, (int)nq).Sum(i => n - nq + i + 1);
        Add(selected.logical_and(ProxyAttn.Causal((int)nq, (int)n).unsqueeze(0)).sum().item<long>(), causal);
    }
}
