using System.Text.RegularExpressions;
using HeadWise.Eval;
using HeadWise.Models;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's uncovered mutants in Eval): each task's refusals name the task, the length and what it needs;
/// a sweep's parameters must name its policies; the memory probe reads the field it names.
/// </summary>
public class TaskInputErrorTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));
    private static ITokenizer Tok => Stories.Value.Tokenizer;

    private static string Error(Action a) => Assert.Throws<HeadWiseException>(a).Message;

    private static string Generate(string task, int length, string? haystack = null) =>
        Error(() => TaskRegistry.Create(task).Generate(Tok, new TaskOptions { Lengths = [length], HaystackPath = haystack }));

    /// <summary>Ten 30-word sentences: each longer than a multikey prompt's room between its needles.</summary>
    private static string LongSentences()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "long.txt");
        File.WriteAllText(path, string.Join(" ", Enumerable.Range(0, 10).Select(i =>
            "The " + string.Join(" ", Enumerable.Repeat("old sailor walked along the quiet harbour", 4)) + " again and again today.")));
        return path;
    }

    [Fact]
    public void Tasks_name_the_shortest_prompt_they_can_write()
    {
        Assert.Equal("length 4 is too short for task copy (need at least 5)", Generate("copy", 4));
        Assert.Equal(5, TaskRegistry.Create("copy").Generate(Tok, new TaskOptions { Lengths = [5] })[0].Tokens.Length);   // BOS + 2 + 2
        Assert.Equal("length 2 is too short for task perplexity", Generate("perplexity", 2, TestPaths.MobyDick));
        Assert.Equal(3, TaskRegistry.Create("perplexity").Generate(Tok, new TaskOptions { Lengths = [3], HaystackPath = TestPaths.MobyDick })[0].Tokens.Length);
        Assert.Matches(new Regex(@"^length 20 is too short for task passkey: its instructions, needles and question alone take \d+ tokens$"), Generate("passkey", 20));
        var hay = LongSentences();
        int fixedCount = int.Parse(Regex.Match(Generate("multikey", 20, hay), @"alone take (\d+) tokens$").Groups[1].Value);
        // Room for 4 needles x 8 tokens but only one (cut) 30-word sentence: 4 needles need 3 sentences between them.
        Assert.Equal($"length {fixedCount + 44} is too short for task multikey: 4 needles need at least 3 filler sentences between them",
            Generate("multikey", fixedCount + 44, hay));
    }

    [Fact]
    public void Tasks_on_natural_text_need_a_haystack_file()
    {
        Assert.Equal("task niah needs a haystack text file (--haystack)", Generate("niah", 200));
        Assert.Equal("task multikey needs a haystack text file (--haystack)", Generate("multikey", 200));
        Assert.Equal("task perplexity needs a text file (--haystack)", Generate("perplexity", 200));
    }

    [Fact]
    public void The_copy_task_needs_two_ordinary_tokens_in_the_vocabulary()
    {
        Assert.Equal("the vocabulary has too few ordinary tokens for the copy task",
            Error(() => TaskRegistry.Create("copy").Generate(new TinyTokenizer(), new TaskOptions { Lengths = [9] })));
    }

    [Fact]
    public void Sweep_parameters_must_name_a_policy_the_sweep_runs()
    {
        var plan = new SweepPlan("passkey", ["streaming", "h2o"], ["0.5"], new TaskOptions { Lengths = [40] },
            Parameters: new Dictionary<string, string> { ["snapkv"] = "window=4" });
        Assert.Equal("--kv-params names policy 'snapkv', which the sweep does not run (policies: streaming, h2o)", Error(() => SweepRunner.Cells(plan)));
        Assert.Equal(2, SweepRunner.Cells(plan with { Parameters = new Dictionary<string, string> { ["h2o"] = "recent=0.5" } }).Count);
    }

    [Fact]
    public void An_empty_bench_result_is_an_error()
    {
        Assert.Equal("empty bench result JSON", Error(() => BenchResult.FromJson("null")));
        // What `bench --json` writes: indented, snake_case names, unset fields left out.
        var json = new BenchResult { Model = "m", Task = "copy", Policy = "full", Budget = "1.0", Compress = "context", Samples = 1, Seed = 1, Accuracy = 0.5,
            KvBytes = 1, KvPeakBytes = 1, KvBytesFull = 1, Lengths = [40], ByLength = [], Grid = [] }.ToJson();
        Assert.StartsWith("{\n  \"model\": \"m\",", json.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("perplexity", json);
    }

    [Fact]
    public void Available_memory_is_the_kernels_MemAvailable_not_another_field()
    {
        long Field(string name) => long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith(name)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        long before = Field("MemAvailable:");
        long? got = ProcessMemory.Available();
        long after = Field("MemAvailable:");
        Assert.NotNull(got);
        // It moves while others run: within the two readings around it, widened by 256 MiB.
        Assert.InRange(got!.Value, Math.Min(before, after) - (256L << 20), Math.Max(before, after) + (256L << 20));
        Assert.True(got.Value < Field("MemTotal:"));
    }

    /// <summary>BOS, EOS and one replacement-character piece: nothing a model learned to copy.</summary>
    private sealed class TinyTokenizer : ITokenizer
    {
        public string Kind => "tiny";
        public int VocabSize => 4;
        public int? BosId => 1;
        public int? EosId => 2;
        public bool AddBosByDefault => true;
        public IReadOnlyList<int> Encode(string text, bool addBos) => addBos ? [1, 3] : [3];
        public string Decode(IEnumerable<int> ids) => string.Concat(ids.Select(TokenLabel));
        public string TokenLabel(int id) => id switch { 0 => "\n", 3 => "\uFFFD", _ => "" };
    }
}
