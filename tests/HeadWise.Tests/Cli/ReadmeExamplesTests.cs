using System.Text;
using System.Text.RegularExpressions;
using HeadWise.Tests.Packaging;
using Xunit.Abstractions;

namespace HeadWise.Tests.Cli;

/// <summary>
/// The README's examples as written (the block under "### Examples"), run from the repository root: each fast one exits 0
/// and shows what the README says it shows, and none leaves a file git would see.
/// </summary>
public partial class ReadmeExamplesTests(ITestOutputHelper output)
{
    private static readonly string[] Slow = ["sweep", "profile"]; // 2.5 and 1 minute: the README says the test leaves them out

    [GeneratedRegex(@"### Examples\n```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ExamplesBlock();

    [Fact]
    public void The_fast_readme_examples_run_as_written_and_show_their_effect()
    {
        var root = PackedPackages.RepoRoot;
        var block = ExamplesBlock().Match(File.ReadAllText(Path.Combine(root, "README.md")));
        Assert.True(block.Success, "README has no ```bash block under ### Examples");
        var before = UntrackedFiles(root);
        var vars = new Dictionary<string, string>();
        var runs = new List<(string[] Args, CliProcess.Result Result)>();
        foreach (var raw in block.Groups[1].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var words = ShellWords(raw, vars).Select(w => SharedBeside(root, w)).ToList();
            if (words is ["mkdir", "-p", var dir]) { Directory.CreateDirectory(Path.Combine(root, dir)); continue; }
            if (words.Count == 1 && words[0].Contains('=')) { var kv = words[0].Split('=', 2); vars[kv[0]] = kv[1]; continue; }
            Assert.Equal("./headwise", words[0]);
            if (Slow.Contains(words[1])) continue;
            var args = words.Skip(1).ToArray();
            var r = CliProcess.RunIn(root, 600, args);
            output.WriteLine($"$ {raw}\n{r.Stdout}");
            Assert.True(r.ExitCode == 0, $"{raw}\nexit {r.ExitCode}: {r.Stderr}");
            runs.Add((args, r));
        }
        string Out(string verb, Func<string[], bool>? which = null) => runs.Single(x => x.Args[0] == verb && (which?.Invoke(x.Args) ?? true)).Result.Stdout;

        Assert.Matches(@"streaming\s+[\d,]+ positions\s+[\d.]+ MiB\s+25\.0%", Out("info"));
        Assert.Contains("wrote runs/attention.html (35 tokens, all 5 layers, 8 heads)", Out("attention"));
        Assert.True(File.Exists(Path.Combine(root, "runs", "attention.html")));
        Assert.Matches(@"head\s+direct attribution\n4\.2\s+1\.23", Out("attribute").Replace("\r", ""));
        var full = Out("generate", a => !a.Contains("--policy"));
        var streaming = Out("generate", a => a.Contains("--policy"));
        const string shared = "Once upon a time, there was a little girl named Lily. She loved to play outside in the";
        Assert.StartsWith(shared, full);
        Assert.StartsWith(shared, streaming);
        Assert.NotEqual(full, streaming);
        Assert.Contains("accuracy 100.0%", Out("bench", a => !a.Contains("--policy")));
        Assert.Contains("accuracy 0.0%", Out("bench", a => a.Contains("--policy")));
        Assert.Equal(before, UntrackedFiles(root)); // what the examples write is git-ignored
    }

    /// <summary>
    /// The README writes ../shared/..., true beside a normal checkout. A clone made elsewhere (CI's `git clone . /tmp/x`)
    /// finds shared/ through HEADWISE_SHARED, as the tests do; the command is otherwise the one written.
    /// </summary>
    private static string SharedBeside(string root, string word) =>
        word.StartsWith("../shared/") && !Directory.Exists(Path.Combine(root, "..", "shared"))
            ? Path.Combine(TestPaths.Shared, word["../shared/".Length..])
            : word;

    /// <summary>Splits a shell line into words: single and double quotes, $VAR from <paramref name="vars"/>.</summary>
    private static List<string> ShellWords(string line, IReadOnlyDictionary<string, string> vars)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '\'' || c == '"')
            {
                int end = line.IndexOf(c, i + 1);
                var quoted = line[(i + 1)..end];
                word.Append(c == '"' ? Expand(quoted, vars) : quoted);
                inWord = true;
                i = end;
            }
            else if (char.IsWhiteSpace(c)) { if (inWord) words.Add(word.ToString()); word.Clear(); inWord = false; }
            else if (c == '$')
            {
                int end = i + 1;
                while (end < line.Length && (char.IsLetterOrDigit(line[end]) || line[end] == '_')) end++;
                word.Append(vars[line[(i + 1)..end]]);
                inWord = true;
                i = end - 1;
            }
            else { word.Append(c); inWord = true; }
        }
        if (inWord) words.Add(word.ToString());
        return words;
    }

    private static string Expand(string s, IReadOnlyDictionary<string, string> vars) =>
        Regex.Replace(s, @"\$([A-Za-z_][A-Za-z0-9_]*)", m => vars[m.Groups[1].Value]);

    /// <summary>Files git sees as untracked (not ignored) under the repository.</summary>
    private static string UntrackedFiles(string root) =>
        ProcessRunner.Check("git", ["status", "--porcelain", "--untracked-files=all"], root).Stdout
            .Split('\n').Where(l => l.StartsWith("??")).Aggregate("", (a, l) => a + l + "\n");
}
