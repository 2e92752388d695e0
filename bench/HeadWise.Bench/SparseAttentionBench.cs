using System.Diagnostics;
using HeadWise.Prefill;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Bench;

/// <summary>
/// `sparse-attention [tokens] [method] [params] [rounds]`: one layer's attention alone (12 heads of 64, random queries and
/// keys), to see where a sparse prefill spends its time: the dense fused causal kernel against the method's selection
/// and the block-sparse kernel, interleaved, CPU seconds (median).
/// </summary>
internal static class SparseAttentionBench
{
    public static int Run(string[] args)
    {
        int tokens = args.Length > 0 ? int.Parse(args[0]) : 8192, rounds = args.Length > 3 ? int.Parse(args[3]) : 3;
        HeadWise.Runtime.Torch.EnsureStarted(); // one torch thread under HEADWISE_THREADS=1, as the prefill bench
        var method = SparsePrefills.Create(args.Length > 1 ? args[1] : "proxyattn", args.Length > 2 ? args[2] : null);
        var gen = new torch.Generator(1);
        var q = torch.randn([1, 12, tokens, 64], generator: gen);
        var k = torch.randn([1, 12, tokens, 64], generator: gen);
        var v = torch.randn([1, 12, tokens, 64], generator: gen);
        var self = Process.GetCurrentProcess();
        double Cpu(Action a)
        {
            using var scope = torch.NewDisposeScope();
            self.Refresh();
            var before = self.TotalProcessorTime;
            a();
            self.Refresh();
            return (self.TotalProcessorTime - before).TotalSeconds;
        }
        var dense = new List<double>();
        var select = new List<double>();
        var attend = new List<double>();
        double share = 0;
        for (int r = 0; r < rounds; r++)
        {
            dense.Add(Cpu(() => F.scaled_dot_product_attention(q, k, v, is_casual: true)));
            (long[] Bounds, Tensor Selected) sel = default;
            select.Add(Cpu(() => { sel = method.Select(q, k, v, null); sel.Selected.DetachFromDisposeScope(); }));
            var stats = new PrefillStats();
            stats.Add(sel.Selected);
            share = stats.Share;
            attend.Add(Cpu(() => BlockSparseAttention.Attend(q, k, v, sel.Bounds, sel.Selected)));
            Console.Error.WriteLine($"round {r + 1}: dense {dense[^1]:F2} s, select {select[^1]:F2} s, attend {attend[^1]:F2} s (CPU)");
        }
        double Med(List<double> x) => x.Order().ElementAt(x.Count / 2);
        Console.WriteLine($"{tokens} tokens, {method.Name} {method.Parameters}: blocks {share * 100:F1}%; dense {Med(dense):F2} s, select {Med(select):F2} s, " +
                          $"attend {Med(attend):F2} s: sparse/dense {(Med(select) + Med(attend)) / Med(dense):F2} (CPU, one layer)");
        return 0;
    }
}
