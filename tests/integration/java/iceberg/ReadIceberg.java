// Reads an Iceberg table eventlake wrote, with Iceberg's own Java library (not pyiceberg): the
// table is found through pyiceberg's SQL catalog (a SQLite file) by Iceberg's JdbcCatalog, its
// current snapshot is planned and every row read with Iceberg's generic reader.
//   java -cp <libs>/*:<classes> ReadIceberg CATALOG.sqlite WAREHOUSE NAMESPACE TABLE SUM_COLUMN
// Prints one JSON line: rows, distinct (_partition, _offset), the sum of SUM_COLUMN (a top-level
// column or struct.field), the snapshot
// id and the table's format version.
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.HasTableOperations;
import org.apache.iceberg.Table;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.data.IcebergGenerics;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.jdbc.JdbcCatalog;

public class ReadIceberg {
  public static void main(String[] args) throws Exception {
    JdbcCatalog catalog = new JdbcCatalog();
    catalog.setConf(new Configuration());
    Map<String, String> props = new HashMap<>();
    props.put(CatalogProperties.URI, "jdbc:sqlite:" + args[0]);
    props.put(CatalogProperties.WAREHOUSE_LOCATION, args[1]);
    props.put(CatalogProperties.FILE_IO_IMPL, "org.apache.iceberg.hadoop.HadoopFileIO");
    catalog.initialize("eventlake", props); // pyiceberg's catalog name in the file
    Table table = catalog.loadTable(TableIdentifier.of(args[2], args[3]));
    String column = args[4];
    long rows = 0;
    long sum = 0;
    Set<List<Object>> keys = new HashSet<>();
    try (CloseableIterable<Record> records =
        IcebergGenerics.read(table).select("_partition", "_offset", column).build()) {
      for (Record r : records) {
        rows++;
        List<Object> key = new ArrayList<>();
        key.add(r.getField("_partition"));
        key.add(r.getField("_offset"));
        keys.add(key);
        Object value = r;
        for (String part : column.split("\\.")) { // a nested field: struct.field
          value = value == null ? null : ((Record) value).getField(part);
        }
        if (value != null) {
          sum += ((Number) value).longValue();
        }
      }
    }
    int version = ((HasTableOperations) table).operations().current().formatVersion();
    System.out.println(
        "{\"rows\": " + rows + ", \"distinct\": " + keys.size() + ", \"sum\": " + sum
            + ", \"snapshot\": " + table.currentSnapshot().snapshotId()
            + ", \"format_version\": " + version + "}");
    catalog.close();
  }
}
