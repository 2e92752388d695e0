using System.Text.RegularExpressions;

namespace HeadWise.Tests.Hostile;

/// <summary>
/// fuzz/dict/*.dict in AFL++'s dictionary format: each entry one line, name="value", the value printable ASCII with
/// \\, \" and \xNN escapes. A raw tab or newline inside a value sent afl-fuzz 4.04c into an endless "Non-printable
/// characters" warning loop while loading the duo-tsv dictionary: CI's 30-second run never ended and wrote a 13 GB log.
/// </summary>
public partial class FuzzDictionaryTests
{
    [GeneratedRegex("""^[A-Za-z0-9_]+(@[0-9]+)?="([\x20-\x21\x23-\x5b\x5d-\x7e]|\\\\|\\"|\\x[0-9A-Fa-f]{2})*"$""")]
    private static partial Regex Entry();

    [Fact]
    public void Every_dictionary_line_is_a_comment_or_an_escaped_entry()
    {
        var dir = Path.Combine(HostileFiles.RepoRoot(), "fuzz", "dict");
        var files = Directory.GetFiles(dir, "*.dict");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var lines = File.ReadAllText(file).Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                var line = lines[i];
                if (line.Length == 0 || line.StartsWith('#')) continue;
                Assert.True(Entry().IsMatch(line), $"{Path.GetFileName(file)} line {i + 1}: {line.Replace("\t", "<TAB>").Replace("\r", "<CR>")}");
            }
        }
    }
}
