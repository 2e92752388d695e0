using System.CommandLine;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise info --kv`: the KV cache bytes a context length needs under each policy (the given one, or all that need no atlas).</summary>
internal static class KvInfo
{
    public sealed record KvRow(string Policy, long Positions, long Bytes, double PercentOfFull);

    public sealed record KvTable(int Context, string Budget, string Dtype, int ElementBytes, long FullBytes, IReadOnlyList<KvRow> Policies, IReadOnlyList<string> NeedAtlas);

    public static KvTable Table(ModelSpec spec, int? context, ParseResult r, KvOptions kv)
    {
        int n = context ?? spec.ContextLength;
        if (n < 1 || n > spec.ContextLength) throw new HeadWiseException($"--context must be in 1..{spec.ContextLength}, got {n}");
        bool haveAtlas = r.GetValue(kv.Atlas) is not null;
        var names = r.GetValue(kv.Policy) is { } one ? [one]
            : KvPolicies.Declarations.Where(d => haveAtlas || d.ReadsScore is null).Select(d => d.Name).ToArray();
        long full = KvSizes.Bytes(KvPolicies.Create("full", KvBudget.All, spec), n);
        var rows = names.Select(name =>
        {
            var policy = kv.Create(name, r, spec);
            long bytes = KvSizes.Bytes(policy, n);
            return new KvRow(name, KvSizes.KeptPositions(policy, n), bytes, Math.Round(100.0 * bytes / full, 2));
        }).ToList();
        return new KvTable(n, kv.ReadBudget(r).Text, spec.Compute.Name(), spec.Compute.ElementSize(), full, rows,
            haveAtlas || r.GetValue(kv.Policy) is not null ? [] : KvPolicies.Declarations.Where(d => d.ReadsScore is not null).Select(d => d.Name).ToArray());
    }

    public static void Print(KvTable t)
    {
        Console.WriteLine();
        Console.WriteLine($"KV cache at {t.Context} tokens, budget {t.Budget} ({t.Dtype}; kept positions x head size x 2 x {t.ElementBytes} bytes)");
        foreach (var row in t.Policies)
            Console.WriteLine($"  {row.Policy,-10} {row.Positions,12:N0} positions {row.Bytes / 1048576.0,10:F2} MiB  {row.PercentOfFull,6:F1}%");
        if (t.NeedAtlas.Count > 0) Console.WriteLine($"  ({string.Join(", ", t.NeedAtlas)} need --atlas)");
    }
}
