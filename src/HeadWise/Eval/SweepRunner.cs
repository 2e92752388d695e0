using System.Text.Json;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Eval;

/// <summary>
/// What a sweep runs: one task over policies x budgets (the "full" policy runs once), each cache compressing at
/// <see cref="Compress"/>. <see cref="Parameters"/> maps a policy name to its parameters ("key=value,..."), e.g.
/// delta → "full=1,every=2" for a shallow model.
/// </summary>
public sealed record SweepPlan(string Task, IReadOnlyList<string> Policies, IReadOnlyList<string> Budgets, TaskOptions Options, string? AtlasPath = null,
    IReadOnlyDictionary<string, string>? Parameters = null, CompressMode Compress = CompressModes.Default, string? SteerPath = null,
    string? Prefill = null, string? PrefillParams = null);

/// <summary>
/// Runs a sweep cell by cell into DIR/cells/KEY.json (written atomically), skipping cells already there, so an
/// interrupted sweep resumes. DIR/results.json holds only the deterministic fields, assembled in plan order, so a
/// resumed sweep writes the same bytes as an uninterrupted one; timings and memory go to DIR/timings.json.
/// </summary>
public static class SweepRunner
{
    public static IReadOnlyList<IKvCacheFactory> Cells(SweepPlan plan)
    {
        var budgets = plan.Budgets.Select(KvBudget.Parse).ToList();
        var atlas = plan.AtlasPath is null ? null : HeadScores.Load(plan.AtlasPath);
        var cells = new List<IKvCacheFactory>();
        foreach (var p in plan.Parameters?.Keys ?? [])
            if (!plan.Policies.Contains(p))
                throw new HeadWiseException($"--kv-params names policy '{p}', which the sweep does not run (policies: {string.Join(", ", plan.Policies)})");
        foreach (var p in plan.Policies)
        {
            // A policy that takes no budget (full, or one sized by its own parameters) runs once.
            if (!KvPolicies.Declaration(p).TakesBudget) { cells.Add(new PolicyCacheFactory(p, KvBudget.All, plan.Compress, atlas, plan.Parameters?.GetValueOrDefault(p))); continue; }
            foreach (var b in budgets) cells.Add(new PolicyCacheFactory(p, b, plan.Compress, atlas, plan.Parameters?.GetValueOrDefault(p)));
        }
        return cells;
    }

    public static string Key(IKvCacheFactory f) => $"{f.Policy}@{f.Budget.Text}";

    /// <summary>Runs the missing cells; returns all results in plan order. <paramref name="onCell"/> sees (done, total, key).</summary>
    public static IReadOnlyList<BenchResult> Run(LoadedModel model, SweepPlan plan, string dir,
        Action<int, int, string>? onCell = null, CancellationToken cancel = default)
    {
        var task = TaskRegistry.Create(plan.Task);
        BenchRunner.Validate(model.Spec, task, plan.Options, plan.Compress);
        var cells = Cells(plan);
        // Every cell's policy, parameters and scores checked before the first runs (a typo fails now, not an hour in).
        foreach (var c in cells.OfType<PolicyCacheFactory>()) c.Check(model.Spec);
        if (plan.Prefill is { } prefill)
            cells = [.. cells.Select(c => (IKvCacheFactory)new Prefill.SparsePrefillFactory(c, Prefill.SparsePrefills.Create(prefill, plan.PrefillParams)))];
        var steering = plan.SteerPath is null ? null : Steering.SteeringFile.Load(plan.SteerPath, model.Spec);
        var hooks = steering is null ? null : new Heads.HookSet().Add(steering);
        string? applied = steering is null ? null : Steering.SteeringFile.Applied(steering, plan.SteerPath!);
        var cellDir = Path.Combine(dir, "cells");
        Directory.CreateDirectory(cellDir);
        CheckSamePlan(dir, model, plan);
        var results = new List<BenchResult>();
        for (int i = 0; i < cells.Count; i++)
        {
            var path = Path.Combine(cellDir, SafeName(Key(cells[i])) + ".json");
            BenchResult r;
            if (File.Exists(path)) r = BenchResult.FromJson(File.ReadAllText(path));
            else
            {
                cancel.ThrowIfCancellationRequested();
                r = BenchRunner.Run(model, task, plan.Options, cells[i], cancel: cancel, hooks: hooks) with { Steering = applied };
                if (cells[i] is Prefill.SparsePrefillFactory sp) r = r with { Prefill = sp.Applied, PrefillBlockShare = sp.Stats.Share };
                WriteAtomically(path, r.ToJson());
            }
            results.Add(r);
            onCell?.Invoke(i + 1, cells.Count, Key(cells[i]));
        }
        WriteAtomically(Path.Combine(dir, "results.json"), JsonSerializer.Serialize(results.Select(r => r.Deterministic()), BenchResult.Json));
        WriteAtomically(Path.Combine(dir, "timings.json"), JsonSerializer.Serialize(results.Select(r => new
        {
            r.Policy, r.Budget, r.PeakRssBytes, r.RssBeforeBytes, r.RssAfterBytes, r.PrefillTps, r.DecodeTps, r.WallSeconds,
        }), BenchResult.Json));
        return results;
    }

    // A directory holds one sweep: resuming with a different model, task or grid would mix incomparable cells.
    private static void CheckSamePlan(string dir, LoadedModel model, SweepPlan plan)
    {
        var o = plan.Options;
        var text = JsonSerializer.Serialize(new
        {
            Model = BenchRunner.Label(model), plan.Task, o.Lengths, Depths = TaskRegistry.Create(plan.Task).HasDepth ? o.Depths : null,
            o.Samples, o.Seed, Haystack = o.HaystackPath is null ? null : Path.GetFileName(o.HaystackPath), plan.Parameters,
            Compress = plan.Compress.Name(), Steer = plan.SteerPath is null ? null : Path.GetFileName(plan.SteerPath),
            plan.Prefill, plan.PrefillParams,
        }, BenchResult.Json);
        var path = Path.Combine(dir, "sweep.json");
        if (File.Exists(path) && File.ReadAllText(path) != text)
            throw new HeadWiseException($"{dir} holds a sweep with different settings (see {path}); use another --out or delete it");
        WriteAtomically(path, text);
    }

    /// <summary>A cell key as a file name: letters, digits, '.', '-' and '@' kept, anything else '_'.</summary>
    internal static string SafeName(string key) => string.Concat(key.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' or '@' ? c : '_'));

    internal static void WriteAtomically(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
