using System.Globalization;

namespace HeadWise.Analysis;

/// <summary>
/// DuoAttention's full_attention_heads.tsv: one line per layer, one tab-separated gate value per KV head
/// (1 = full attention, 0 = streaming).
/// </summary>
public static class DuoPattern
{
    public static void Write(string path, double[][] gates)
    {
        if (gates.Length == 0 || gates.Any(r => r.Length != gates[0].Length || r.Length == 0))
            throw new HeadWiseException("a DuoAttention pattern needs the same non-zero number of KV heads in every layer");
        File.WriteAllLines(path, gates.Select(r => string.Join('\t', r.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
    }

    public static double[][] Read(string path)
    {
        var lines = Formats.BoundedFile.ReadAllLines(path, "DuoAttention pattern", Formats.FileLimits.PatternTsv).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length == 0) throw new HeadWiseException($"{path}: empty; expected one line per layer of tab-separated gate values");
        var rows = new double[lines.Length][];
        for (int i = 0; i < lines.Length; i++)
        {
            var cells = lines[i].Trim().Split('\t');
            rows[i] = new double[cells.Length];
            for (int j = 0; j < cells.Length; j++)
                if (!double.TryParse(cells[j], NumberStyles.Float, CultureInfo.InvariantCulture, out rows[i][j]) || !double.IsFinite(rows[i][j]))
                    throw new HeadWiseException($"{path}: line {i + 1}, column {j + 1}: {ErrorText.Quote(cells[j])} is not a number");
            if (rows[i].Length != rows[0].Length)
                throw new HeadWiseException($"{path}: line {i + 1} has {rows[i].Length} values but line 1 has {rows[0].Length} (one per KV head)");
        }
        return rows;
    }

    /// <summary>The atlas's duo-gate map folded to KV heads (the first query head of each group).</summary>
    public static double[][] FromAtlas(HeadAtlas atlas)
    {
        var map = atlas["duo-gate"];
        int group = atlas.Heads / atlas.KvHeads;
        return map.Values.Select(r => Enumerable.Range(0, atlas.KvHeads).Select(k => r[k * group]).ToArray()).ToArray();
    }

    /// <summary>Puts KV-head gates into the atlas as the duo-gate map (repeated over each group's query heads).</summary>
    public static void IntoAtlas(HeadAtlas atlas, double[][] gates, string source)
    {
        if (gates.Length != atlas.Layers || gates[0].Length != atlas.KvHeads)
            throw new HeadWiseException($"{source}: {gates.Length} layers x {gates[0].Length} KV heads, but the model has {atlas.Layers} x {atlas.KvHeads}");
        int group = atlas.Heads / atlas.KvHeads;
        var values = gates.Select(r => Enumerable.Range(0, atlas.Heads).Select(h => r[h / group]).ToArray()).ToArray();
        atlas.Add(new HeadMap("duo-gate", values, new System.Text.Json.Nodes.JsonObject { ["imported_from"] = source }));
    }
}
