package io.stratus.agent.hypervisor.libvirt;

import io.stratus.agent.hypervisor.Hypervisor.DiskInfo;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;

/**
 * The {@code <disk>} elements of a domain's XML. Only a disk's own {@code <source>} and
 * {@code <driver>} are read, never those of its {@code <backingStore>} chain.
 */
final class DomainDisks {

  /** One {@code <disk>} element; {@code source} and {@code format} may be null. */
  record Disk(String target, String type, String device, Path source, String format) {}

  private final List<Disk> disks;

  private DomainDisks(List<Disk> disks) {
    this.disks = List.copyOf(disks);
  }

  /**
   * Parses the disks out of domain XML.
   *
   * @throws IllegalArgumentException if the XML cannot be parsed
   */
  static DomainDisks parse(String domainXml) {
    Element devices = firstChild(parseDocument(domainXml), "devices");
    List<Disk> disks = new ArrayList<>();
    if (devices != null) {
      for (Element disk : children(devices, "disk")) {
        Element target = firstChild(disk, "target");
        if (target == null || target.getAttribute("dev").isEmpty()) {
          continue;
        }
        Element source = firstChild(disk, "source");
        Element driver = firstChild(disk, "driver");
        String file = source == null ? "" : source.getAttribute("file");
        String format = driver == null ? "" : driver.getAttribute("type");
        disks.add(new Disk(target.getAttribute("dev"), disk.getAttribute("type"),
            disk.getAttribute("device"), file.isEmpty() ? null : Path.of(file),
            format.isEmpty() ? null : format));
      }
    }
    return new DomainDisks(disks);
  }

  /** Every disk with a target, in document order. */
  List<Disk> all() {
    return disks;
  }

  /** The file-backed hard disks ({@code type='file' device='disk'}) as the interface shows them. */
  List<DiskInfo> fileDisks() {
    return disks.stream()
        .filter(d -> "file".equals(d.type()) && "disk".equals(d.device()) && d.source() != null)
        .map(d -> new DiskInfo(d.target(), d.source(), d.format()))
        .toList();
  }

  /** Whether a disk has this target device name (e.g. {@code vda}). */
  boolean hasTarget(String target) {
    return disks.stream().anyMatch(d -> d.target().equals(target));
  }

  private static Element parseDocument(String xml) {
    try {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      factory.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      factory.setExpandEntityReferences(false);
      DocumentBuilder builder = factory.newDocumentBuilder();
      return builder.parse(new InputSource(new StringReader(xml))).getDocumentElement();
    } catch (ParserConfigurationException | SAXException | IOException e) {
      throw new IllegalArgumentException("cannot parse domain XML: " + e.getMessage(), e);
    }
  }

  private static Element firstChild(Element parent, String name) {
    List<Element> found = children(parent, name);
    return found.isEmpty() ? null : found.get(0);
  }

  private static List<Element> children(Element parent, String name) {
    List<Element> found = new ArrayList<>();
    NodeList nodes = parent.getChildNodes();
    for (int i = 0; i < nodes.getLength(); i++) {
      Node node = nodes.item(i);
      if (node instanceof Element element && element.getTagName().equals(name)) {
        found.add(element);
      }
    }
    return found;
  }
}
