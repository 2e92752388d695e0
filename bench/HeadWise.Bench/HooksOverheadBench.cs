using System.Diagnostics;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;

namespace HeadWise.Bench;

/// <summary>
/// `hooks-overhead MODEL [tokens] [reps]`: forward time with no hooks vs an empty HookSet vs capturing one head's pattern,
/// interleaved rounds, median of each. Acceptance: no-hook speed within 3% of the pre-hooks forward (compare to the
/// base branch's `decode`/this run on the merge base) and an empty HookSet costing about nothing.
/// </summary>
internal static class HooksOverheadBench
{
    public static int Run(string[] args)
    {
        using var m = ModelLoader.Load(args[0]);
        int t = args.Length > 1 ? int.Parse(args[1]) : 128, reps = args.Length > 2 ? int.Parse(args[2]) : 30;
        var model = m.Transformer;
        var tokens = torch.tensor(Enumerable.Range(0, t).Select(i => (long)(1 + i * 7 % (m.Spec.VocabSize - 1))).ToArray()).unsqueeze(0);
        var empty = new HookSet();
        var onePattern = new HookSet().AddForHeads(HookNames.ForLayer(m.Spec.Layers / 2).Pattern, [0], x => x);
        var cases = new (string Name, Func<torch.Tensor> Run)[]
        {
            ("no hooks", () => model.Forward(tokens)),
            ("empty HookSet", () => model.Forward(tokens, hooks: empty)),
            ("one head's pattern", () => model.Forward(tokens, hooks: onePattern)),
        };
        var times = cases.ToDictionary(c => c.Name, _ => new List<double>());
        for (int warm = 0; warm < 3; warm++) foreach (var c in cases) using (var s = torch.NewDisposeScope()) c.Run();
        for (int r = 0; r < reps; r++)
            foreach (var c in cases)
            {
                using var scope = torch.NewDisposeScope();
                var sw = Stopwatch.StartNew();
                c.Run();
                times[c.Name].Add(sw.Elapsed.TotalMilliseconds);
            }
        double baseMs = Median(times["no hooks"]);
        Console.WriteLine($"{m.DisplayName}, {t} tokens, {reps} interleaved rounds, {torch.get_num_threads()} threads");
        foreach (var (name, list) in times)
            Console.WriteLine($"{name,-20} median {Median(list),8:F3} ms  ({Median(list) / baseMs - 1:+0.0%;-0.0%} vs no hooks)");
        return 0;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
