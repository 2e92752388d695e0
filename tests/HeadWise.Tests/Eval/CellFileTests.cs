using HeadWise.Eval;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (SweepRunner's cell files): a cell key becomes a file name keeping letters, digits, '.', '-' and '@' and
/// turning anything else into '_'; a cell file is replaced whole (written beside it, then renamed over it), so a reader
/// of the old file never sees a half-written one.
/// </summary>
public class CellFileTests
{
    [Theory]
    [InlineData("full@1.0", "full@1.0")]
    [InlineData("streaming@64", "streaming@64")]
    [InlineData("snap-kv@0.25", "snap-kv@0.25")]
    [InlineData("a b/c:d", "a_b_c_d")]
    public void A_key_keeps_letters_digits_dot_dash_and_at(string key, string name) => Assert.Equal(name, SweepRunner.SafeName(key));

    [Fact]
    public void A_cell_file_is_replaced_not_rewritten_in_place()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "full@1.0.json");
        File.WriteAllText(path, "old cell");
        using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        SweepRunner.WriteAtomically(path, "new cell, longer");
        Assert.Equal("new cell, longer", File.ReadAllText(path));
        // The reader opened the old file: it still reads that file whole.
        Assert.Equal("old cell", new StreamReader(reader).ReadToEnd());
        Assert.Equal(["full@1.0.json"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }
}
