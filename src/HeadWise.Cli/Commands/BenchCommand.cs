using System.CommandLine;
using HeadWise.Eval;
using HeadWise.Models;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise bench`: one (model, task, policy, budget) over a length x depth grid.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var json = CommonOptions.Json();
        var eval = new EvalOptions();
        var kv = new KvOptions();
        var steer = new SteerOptions();
        var prefill = new PrefillOptions();
        var command = new Command("bench", "Score a model on a long-context task with a KV-cache policy and budget; report accuracy, KV bytes, speed")
            { model, json };
        foreach (var o in load.All) command.Options.Add(o);
        foreach (var o in eval.All.Concat(kv.All).Append(kv.Compress).Concat(steer.All).Concat(prefill.All)) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() =>
        {
            var task = TaskRegistry.Create(r.GetValue(eval.Task)!);
            var options = eval.Read(r);
            var compress = kv.ReadCompress(r, task);
            kv.ReadBudget(r);
            var sparse = prefill.Read(r);
            using var m = ModelLoader.Load(CommonOptions.ResolveModel(r.GetValue(model)!), load.Get(r));
            var factory = PrefillOptions.Wrap(kv.Factory(r, m.Spec, compress), sparse);
            var (hooks, steering) = steer.Read(r, m.Spec);
            BenchRunner.Validate(m.Spec, task, options, compress, factory.LengthLimit(m.Spec));
            var bar = new ProgressBar("bench");
            var result = BenchRunner.Run(m, task, options, factory, (i, n) => bar.Report(i, n, "prompts"), hooks: hooks) with { Steering = steering };
            if (factory is Prefill.SparsePrefillFactory sp) result = result with { Prefill = sp.Applied, PrefillBlockShare = sp.Stats.Share };
            Console.WriteLine($"{result.Model} {result.Task} policy {result.Policy} budget {result.Budget} compress {result.Compress}: accuracy {result.Accuracy * 100:F1}%");
            if (steering is not null) Console.WriteLine($"steering {steering}");
            if (result.Prefill is not null) Console.WriteLine($"prefill {result.Prefill}: {result.PrefillBlockShare * 100:F1}% of the causal attention blocks computed");
            Console.WriteLine($"KV kept {result.KvBytes / 1048576.0:F3} MiB (peak {result.KvPeakBytes / 1048576.0:F3}) of {result.KvBytesFull / 1048576.0:F3} MiB full; prefill {result.PrefillTps:F0} tok/s, decode {result.DecodeTps?.ToString("F0") ?? "-"} tok/s; peak RSS {result.PeakRssBytes / 1048576.0:F0} MiB");
            if (result.AttendedShare is { } share) Console.WriteLine($"selective attention attended {share * 100:F1}% of the keys its queries could see");
            foreach (var (len, g) in result.ByLength) Console.WriteLine($"  length {len}: {g.Accuracy * 100:F1}% ({g.Samples} {(g.Samples == 1 ? "prompt" : "prompts")})");
            if (result.ByDepth is not null)
                foreach (var (d, g) in result.ByDepth) Console.WriteLine($"  depth {d}: {g.Accuracy * 100:F1}%");
            if (r.GetValue(json) is string path) File.WriteAllText(path, result.ToJson());
            return 0;
        }));
        return command;
    }
}
